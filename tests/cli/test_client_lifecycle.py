"""`otpd client list|rotate|update|revoke` against a running server (issue #14): what each
prints (never a key in a listing, a new key once), and what the APIs then accept."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.support.clients import Sb
from tests.support.deployment import start_deployment
from tests.support.keys import (
    client_cli,
    client_json,
    key_hash,
    key_works,
    login,
    new_client,
    token_works,
    until,
)
from tests.support.server import Server, run_cli

ALL_APIS = dict.fromkeys(("token2", "phenixid", "login"), True)
NO_API = dict.fromkeys(("token2", "phenixid", "login"), False)
KEYS: list[str] = []  # every key made here: none may reach a log or an error line


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("clients") / "data"
    with start_deployment(data_dir, "clients", roles=("reader",)) as deployment:
        KEYS.append(deployment.keys["reader"])
        yield deployment.server
    log = deployment.server.log_path.read_text()
    for key in KEYS:
        assert key not in log
        assert key_hash(key) not in log


def _made(server: Server, name: str, scopes: str = "read", tenant: str = "acme") -> str:
    key = new_client(server.data_dir, tenant, name, scopes)
    KEYS.append(key)
    return key


def _fails(server: Server, *args: str, status: int = 1) -> str:
    result = run_cli("client", *args, "--data-dir", str(server.data_dir))
    assert result.returncode == status, result.stdout
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("otpd: error: ")
    for key in KEYS:
        assert key not in result.stderr
    return result.stderr


def test_list_shows_clients_and_last_use_never_a_key(server: Server) -> None:
    used = _made(server, "lister", "read,verify")
    unused = _made(server, "idle", "seal", tenant="system")
    assert key_works(server.url, "acme", "lister", used)["token2"]
    everyone = client_json(server.data_dir, "list", "--json")
    rows = {(row["tenant"], row["name"]): row for row in everyone}
    lister = rows["acme", "lister"]
    assert lister["scopes"] == ["read", "verify"]
    assert lister["created-at"].endswith("Z")
    assert lister["last-used-at"] is not None
    assert lister["previous-key-expires-at"] is None
    assert rows["system", "idle"]["last-used-at"] is None
    assert set(lister) == {
        "tenant",
        "name",
        "scopes",
        "created-at",
        "last-used-at",
        "previous-key-expires-at",
    }
    one_tenant = client_json(server.data_dir, "list", "--tenant", "system", "--json")
    assert [row["name"] for row in one_tenant] == ["idle"]
    text = client_cli(server.data_dir, "list")
    assert "acme\tlister\tscopes=read,verify\tcreated=" in text
    assert "system\tidle\tscopes=seal\t" in text and "last-used=never" in text
    for output in (json.dumps(everyone), text):
        for key in (used, unused):
            assert key not in output
            assert key_hash(key) not in output
    assert _fails(server, "list", "--tenant", "ghost") == "otpd: error: no such tenant\n"


def test_rotate_prints_like_create_and_the_old_key_keeps_its_grace(server: Server) -> None:
    old = _made(server, "rotor")
    old_token = login(server.url, "rotor", old)
    assert old_token is not None
    args = ("rotate", "--tenant", "acme", "--name", "rotor")
    rotated = client_json(server.data_dir, *args, "--json")  # default grace: one hour
    new = rotated.pop("key")
    KEYS.append(new)
    assert rotated.pop("previous-key-expires-at").endswith("Z")
    assert rotated == {"tenant": "acme", "name": "rotor", "scopes": ["read"]}
    assert len(new) == 40 and new != old
    assert key_works(server.url, "acme", "rotor", new) == ALL_APIS
    assert key_works(server.url, "acme", "rotor", old) == ALL_APIS  # within its grace
    assert token_works(server.url, old_token)
    listed = client_json(server.data_dir, "list", "--tenant", "acme", "--json")
    assert next(r for r in listed if r["name"] == "rotor")["previous-key-expires-at"]
    # The text form shows the key once, as `client create` does.
    text = client_cli(server.data_dir, *args, "--grace", "0")
    newest = text.split("key: ", 1)[1].split("\n", 1)[0]
    KEYS.append(newest)
    assert text.count(newest) == 1
    assert "(the key is shown once; store it now)" in text
    assert "the old key is refused now" in text
    for key in (old, new):  # grace 0 ends the old key, and the one before it went with it
        # Servers cache a key's client for at most 0.5 s: refused everywhere within 1 s.
        refused = until(lambda k=key: key_works(server.url, "acme", "rotor", k) == NO_API, 1.0)
        assert refused is not None
    assert not token_works(server.url, old_token)
    assert key_works(server.url, "acme", "rotor", newest) == ALL_APIS


@pytest.mark.parametrize("grace", ["1x", "-5", "31d", ""])
def test_a_bad_grace_is_a_usage_error_and_changes_nothing(server: Server, grace: str) -> None:
    args = ("rotate", "--tenant", "acme", "--name", "reader", "--grace", grace)
    assert "argument --grace: must be a duration" in _fails(server, *args, status=2)
    assert key_works(server.url, "acme", "reader", KEYS[0]) == ALL_APIS


def test_new_scopes_apply_at_once_to_key_and_bearer_token(server: Server) -> None:
    key = _made(server, "scoped", "read")
    token = login(server.url, "scoped", key)
    assert token is not None
    with httpx.Client(base_url=server.url, timeout=30) as http:
        session = Sb(http, token)
        assert session.create("probe1", secret=os.urandom(20)).status_code == 403
        args = ("update", "--tenant", "acme", "--name", "scoped", "--scopes", "read,write")
        assert client_json(server.data_dir, *args)["scopes"] == ["read", "write"]
        created = session.create("probe2", secret=os.urandom(20))  # the same token, at once
        assert created.status_code == 201, created.text
    assert key_works(server.url, "acme", "scoped", key)["token2"]
    stderr = _fails(server, "update", "--tenant", "acme", "--name", "scoped", "--scopes", "seal")
    assert "seal is only for clients of the tenant 'system'" in stderr
    _fails(server, "update", "--tenant", "acme", "--name", "scoped", "--scopes", "bogus")
    _fails(server, "update", "--tenant", "acme", "--name", "ghost", "--scopes", "read")


def test_revoke_and_its_errors(server: Server) -> None:
    key = _made(server, "doomed", "read")
    token = login(server.url, "doomed", key)
    assert token is not None
    out = client_cli(server.data_dir, "revoke", "--tenant", "acme", "--name", "doomed")
    assert out == "client doomed of tenant acme revoked; its tokens are deleted\n"
    # Servers cache a key's client for at most 0.5 s: refused everywhere within 1 s.
    assert until(lambda: key_works(server.url, "acme", "doomed", key) == NO_API, 1.0) is not None
    assert not token_works(server.url, token)
    names = [r["name"] for r in client_json(server.data_dir, "list", "--json")]
    assert "doomed" not in names
    assert _fails(server, "revoke", "--tenant", "acme", "--name", "doomed") == (
        "otpd: error: no such client\n"
    )
    _fails(server, "rotate", "--tenant", "acme", "--name", "doomed")
