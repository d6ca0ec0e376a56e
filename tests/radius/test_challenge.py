"""Challenge mode (RFC 2865 §4.4 Access-Challenge) across two otpd instances sharing one
database: the State lives in the database, so the second request may reach the other one;
it is single use and bound to its user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pyrad import packet

from tests.support.deployment import Deployment, start_deployment
from tests.support.radius import access_request, exchange, reply_to


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Two instances, each with its own data directory (one keyring) and RADIUS port, on one
    SQLite database; NAS `vpn` in challenge mode."""
    first_dir = tmp_path_factory.mktemp("challenge") / "a"
    database = f"sqlite:///{first_dir / 'otpd.sqlite3'}"
    deployment = start_deployment(
        first_dir, "challenge", roles=("admin",), database=database,
        nas={"vpn": ("--address", "127.0.0.1", "--mode", "challenge")}, instances=2, radius=True,
    )  # fmt: skip
    yield deployment
    deployment.close()


def _user(pair: Deployment, name: str) -> str:
    assert pair.sb().create(name).status_code == 201
    return name


def _send(pair: Deployment, port: int, user: str, password: str, state: bytes | None = None) -> Any:
    request = access_request(pair.nas["vpn"], user, password)
    if state is not None:
        request["State"] = state
    replies = exchange(port, request.RequestPacket())
    assert len(replies) == 1
    return reply_to(request, replies[0])


def test_challenge_then_code_on_the_other_instance(pair: Deployment) -> None:
    user = _user(pair, "carol")
    challenge = _send(pair, pair.radius_ports[0], user, "first-factor")
    assert challenge.code == packet.AccessChallenge
    state = challenge["State"][0]
    assert len(state) >= 16
    assert challenge["Reply-Message"]
    accepted = _send(pair, pair.radius_ports[1], user, pair.sb().code(user), state)
    assert accepted.code == packet.AccessAccept
    # single use: the same State again is refused, even with a fresh challenge's code
    again = _send(pair, pair.radius_ports[0], user, pair.sb().code(user), state)
    assert again.code == packet.AccessReject


def test_state_is_bound_to_its_user(pair: Deployment) -> None:
    dave, erin = _user(pair, "dave"), _user(pair, "erin")
    state = _send(pair, pair.radius_ports[0], dave, "x")["State"][0]
    stolen = _send(pair, pair.radius_ports[1], erin, pair.sb().code(erin), state)
    assert stolen.code == packet.AccessReject
    # the State is used up by the attempt; erin's code was not verified, so it still works
    fresh = _send(pair, pair.radius_ports[1], erin, "x")["State"][0]
    assert (
        _send(pair, pair.radius_ports[0], erin, pair.sb().code(erin), fresh).code
        == packet.AccessAccept
    )


def test_code_without_a_state_only_starts_a_challenge(pair: Deployment) -> None:
    user = _user(pair, "frank")
    code = pair.sb().code(user)
    reply = _send(pair, pair.radius_ports[1], user, code)
    assert reply.code == packet.AccessChallenge  # the code was not consumed...
    state = reply["State"][0]
    assert (
        _send(pair, pair.radius_ports[0], user, code, state).code == packet.AccessAccept
    )  # ...here
