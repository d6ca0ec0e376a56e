"""`otpd nas ...` as an operator runs it: the secret shown once and stored sealed, clear
errors for overlapping ranges and bad attributes, update, delete and group labels."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.deployment import create_roles
from tests.support.server import register_secret, run_cli


def _nas(data_dir: Path, verb: str, *args: str) -> Any:
    result = run_cli("nas", verb, *args, "--data-dir", str(data_dir))
    return result


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    create_roles(directory, ("reader", "globex"))  # tenants acme and globex
    return directory


def test_create_shows_the_secret_once_and_stores_it_sealed(data_dir: Path) -> None:
    result = _nas(data_dir, "create", "--tenant", "acme", "--name", "fw", "--address",
                  "192.0.2.1,198.51.100.0/24", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    secret = shown.pop("secret")
    register_secret(secret.encode())
    assert len(secret) >= 22 and secret.isalnum()  # at least 16 random bytes' worth
    assert shown == {
        "tenant": "acme",
        "name": "fw",
        "addresses": ["192.0.2.1/32", "198.51.100.0/24"],
        "mode": "otp",
        "message-authenticator": "required",
        "strip-realm": False,
        "reply-attributes": [],
        "group-attribute": None,
        "ldap-url": None,
        "ldap-bind-dn": None,
    }
    listed = _nas(data_dir, "list", "--tenant", "acme")
    assert json.loads(listed.stdout) == [shown]
    assert secret not in listed.stdout
    for path in data_dir.iterdir():  # sealed at rest: not in the database file in clear
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_overlap_across_tenants_is_refused_clearly(data_dir: Path) -> None:
    assert _nas(data_dir, "create", "--tenant", "acme", "--name", "a",
                "--address", "10.0.0.0/8").returncode == 0  # fmt: skip
    refused = _nas(data_dir, "create", "--tenant", "globex", "--name", "b",
                   "--address", "10.20.0.1")  # fmt: skip
    assert refused.returncode == 1
    assert "overlaps 10.0.0.0/8 of a NAS in another tenant" in refused.stderr
    assert refused.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reply-attribute", "No-Such-Thing=1"], "is not an attribute otpd sends"),
        (["--reply-attribute", "Session-Timeout=soon"], "reply-attribute"),
        (["--reply-attribute", "Message-Authenticator=x"], "is not an attribute"),
        (["--mode", "password+otp"], "needs --ldap-url and --ldap-bind-dn"),
        (["--ldap-url", "http://x", "--ldap-bind-dn", "uid={user}"], "ldap-url"),
        (["--address", "not-an-address"], "is not an address or CIDR"),
        (["--reply-attribute", "Class=x"] * 33, "reply-attribute: give at most 32 (got 33)"),
    ],
)
def test_bad_options_are_refused_before_anything_is_written(
    data_dir: Path, args: list[str], message: str
) -> None:
    base = ["--tenant", "acme", "--name", "fw"]
    if "--address" not in args:
        base += ["--address", "192.0.2.1"]
    result = _nas(data_dir, "create", *base, *args)
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # one line, no traceback
    assert json.loads(_nas(data_dir, "list").stdout) == []


def test_update_new_secret_delete_and_group(data_dir: Path) -> None:
    created = _nas(data_dir, "create", "--tenant", "acme", "--name", "fw",
                   "--address", "192.0.2.1", "--json")  # fmt: skip
    old = json.loads(created.stdout)["secret"]
    register_secret(old.encode())
    updated = _nas(data_dir, "update", "--tenant", "acme", "--name", "fw", "--mode", "challenge",
                   "--reply-attribute", "Filter-Id=vpn", "--new-secret", "--json")  # fmt: skip
    assert updated.returncode == 0, updated.stderr
    body = json.loads(updated.stdout)
    register_secret(body["secret"].encode())
    assert body["secret"] != old and body["mode"] == "challenge"
    assert body["addresses"] == ["192.0.2.1/32"] and body["reply-attributes"] == ["Filter-Id=vpn"]
    plain = _nas(data_dir, "update", "--tenant", "acme", "--name", "fw", "--json")
    assert "secret" not in json.loads(plain.stdout)  # no new secret unless asked
    missing = _nas(data_dir, "group", "--tenant", "acme", "--credential", "nobody", "--label", "x")
    assert missing.returncode == 1 and "no such credential" in missing.stderr
    assert _nas(data_dir, "delete", "--tenant", "acme", "--name", "fw").returncode == 0
    again = _nas(data_dir, "delete", "--tenant", "acme", "--name", "fw")
    assert again.returncode == 1 and "no such NAS" in again.stderr


def test_unknown_tenant_and_system_tenant_are_errors(data_dir: Path) -> None:
    result = _nas(data_dir, "create", "--tenant", "initech", "--name", "fw", "--address", "::1")
    assert result.returncode == 1 and "no such tenant" in result.stderr
    system = _nas(data_dir, "create", "--tenant", "system", "--name", "fw", "--address", "::1")
    assert system.returncode == 1 and "holds no credentials" in system.stderr
