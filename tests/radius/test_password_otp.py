"""password+otp and challenge modes with a real directory (OpenLDAP slapd): the code is
checked first, so wrong guesses never reach the directory (and never lock the account)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pyrad import packet

from tests.support.deployment import Deployment, create_nas
from tests.support.radius import access_request, exchange, reply_to
from tests.support.slapd import SUFFIX, USERS, Slapd

BIND_DN = f"uid={{user}},ou=people,{SUFFIX}"


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slapd]:
    directory = Slapd(tmp_path_factory.mktemp("slapd")).start()
    yield directory
    directory.stop()


@pytest.fixture(scope="module")
def secrets_by_mode(radius: Deployment, slapd: Slapd) -> dict[str, str]:
    common = ("--ldap-url", slapd.url, "--ldap-bind-dn", BIND_DN, "--tenant", "acme")
    made = {
        "password+otp": create_nas(
            radius.data_dir, "pwotp", *common, "--address", "127.0.0.11", "--mode", "password+otp"
        ),
        "challenge": create_nas(
            radius.data_dir, "chal", *common, "--address", "127.0.0.12", "--mode", "challenge"
        ),
    }
    for uid in USERS:
        assert radius.sb().create(uid).status_code == 201
    time.sleep(1.1)  # the NAS registry reloads on a miss at most once a second
    return made


def _send(
    secret: str, source: str, radius: Deployment, user: str, password: str, **attrs: Any
) -> Any:
    request = access_request(secret, user, password)
    for name, value in attrs.items():
        request[name] = value
    replies = exchange(radius.radius_port, request.RequestPacket(), source=source, timeout=10)
    assert len(replies) == 1
    return reply_to(request, replies[0])


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_wrong_code_never_reaches_the_directory(
    radius: Deployment, slapd: Slapd, secrets_by_mode: dict[str, str]
) -> None:
    secret = secrets_by_mode["password+otp"]
    for _ in range(3):
        wrong = _wrong(radius.sb().code("alice"))
        reply = _send(secret, "127.0.0.11", radius, "alice", USERS["alice"] + wrong)
        assert reply.code == packet.AccessReject
    assert slapd.binds("alice") == 0


def test_right_code_and_password_accepted_wrong_password_rejected(
    radius: Deployment, slapd: Slapd, secrets_by_mode: dict[str, str]
) -> None:
    secret = secrets_by_mode["password+otp"]
    good = _send(secret, "127.0.0.11", radius, "bob", USERS["bob"] + radius.sb().code("bob"))
    assert good.code == packet.AccessAccept
    assert slapd.binds("bob") >= 1
    bad = _send(
        secret, "127.0.0.11", radius, "carol", "not-her-password" + radius.sb().code("carol")
    )
    assert bad.code == packet.AccessReject
    assert slapd.binds("carol") >= 1  # the code was right, so the password was asked


def test_challenge_mode_checks_the_directory_password_first(
    radius: Deployment, slapd: Slapd, secrets_by_mode: dict[str, str]
) -> None:
    secret = secrets_by_mode["challenge"]
    refused = _send(secret, "127.0.0.12", radius, "alice", "wrong-password")
    assert refused.code == packet.AccessReject
    challenge = _send(secret, "127.0.0.12", radius, "alice", USERS["alice"])
    assert challenge.code == packet.AccessChallenge
    state = challenge["State"][0]
    code = radius.sb().code("alice")
    accepted = _send(secret, "127.0.0.12", radius, "alice", code, State=state)
    assert accepted.code == packet.AccessAccept


def test_empty_directory_password_is_never_an_anonymous_bind(
    radius: Deployment, secrets_by_mode: dict[str, str]
) -> None:
    """RFC 4513 §5.1.2: a simple bind with an empty password is an unauthenticated bind that
    many directories accept; otpd refuses it before asking."""
    secret = secrets_by_mode["challenge"]
    assert _send(secret, "127.0.0.12", radius, "bob", "").code == packet.AccessReject
