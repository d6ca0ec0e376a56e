"""`otpd tenant delete` and `--erase` (issues #13, #14) against a real server and SQLite file."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from otpd.core.errors import SecretCorrupted
from otpd.crypto import open_seal
from otpd.store.sqlite import SqliteStore
from tests.support.deployment import Deployment, create_roles, prepare
from tests.support.server import audit_trail, run_cli
from tests.support.token2 import oathtool

ADMINS = {"acme": "noreveal", "globex": "globex"}  # tenant -> its one client (a role)
# Every tenant-scoped table: nothing of a deleted tenant may stay behind.
TENANT_TABLES = ("api_client", "credential", "token", "enrolment_ticket", "radius_nas")


def _rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return list(conn.execute(sql, params))


def _setup(data_dir: Path) -> tuple[Deployment, dict[str, dict[str, bytes]]]:
    deployment = prepare(data_dir, roles=ADMINS.values())
    secrets = {t: {f"u{n}": os.urandom(20) for n in range(3)} for t in ADMINS}
    with deployment.start("tenant-delete-setup"):
        for tenant, role in ADMINS.items():
            for name, secret in secrets[tenant].items():
                assert deployment.sb(role).create(name, secret, period="1s").status_code == 201
    return deployment, secrets


def test_delete_refuses_without_force_then_erases(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "otpd.sqlite3"
    deployment, secrets = _setup(data_dir)
    copied = _rows(db, "SELECT id, secret FROM credential WHERE tenant = 'acme'")
    assert len(copied) == 3

    refused = run_cli("tenant", "delete", "acme", "--data-dir", str(data_dir))
    assert refused.returncode == 1
    assert "still has 3 credentials, 1 clients" in refused.stderr
    missing = run_cli("tenant", "delete", "nobody", "--data-dir", str(data_dir))
    assert missing.returncode == 1 and "no such tenant" in missing.stderr

    erased = run_cli("tenant", "delete", "acme", "--force", "--erase", "--data-dir", str(data_dir))
    assert erased.returncode == 0, erased.stderr
    report = json.loads(erased.stdout)
    assert report["erased"] and report["rows"]["credential"] == 3
    assert report["rows"]["tenant_key"] == 1
    for table in (*TENANT_TABLES, "tenant_key"):
        assert _rows(db, f"SELECT COUNT(*) FROM {table} WHERE tenant = 'acme'") == [(0,)]
    assert _rows(db, "SELECT COUNT(*) FROM tenant WHERE id = 'acme'") == [(0,)]

    # The ciphertexts copied out before the erase do not open with the live key material.
    store = SqliteStore(db)
    try:
        live = open_seal(data_dir, store)
        for ident, blob in copied:
            with pytest.raises(SecretCorrupted):
                live.open_secret(_blob(blob), tenant="acme", credential_id=_int(ident))
    finally:
        store.close()
    with deployment.start("tenant-delete-after"):  # the other tenant verifies
        sb = deployment.sb("globex")
        for name, secret in secrets["globex"].items():
            code = oathtool(base64.b32encode(secret).decode(), "--time-step-size=1s")
            assert sb.verify(name, code).json() == {"valid": True}
        with deployment.http() as http:  # its client is gone
            body = {"username": "noreveal", "password": deployment.keys["noreveal"]}
            assert http.post("/v1/login", json=body).status_code == 401


def _blob(value: object) -> bytes:
    assert isinstance(value, bytes)
    return value


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value


def test_system_tenant_with_seal_clients_is_refused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    create_roles(data_dir, ("sealer",))
    for flags in ((), ("--force",), ("--force", "--erase")):
        result = run_cli("tenant", "delete", "system", *flags, "--data-dir", str(data_dir))
        assert result.returncode == 1
        assert "holds seal clients" in result.stderr
    assert _rows(data_dir / "otpd.sqlite3", "SELECT COUNT(*) FROM api_client") == [(1,)]


def test_empty_tenant_deletes_without_force(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    assert run_cli("tenant", "create", "idle", "--data-dir", str(data_dir)).returncode == 0
    result = run_cli("tenant", "delete", "idle", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["deleted"] == "idle"
    listing = run_cli("tenant", "list", "--json", "--data-dir", str(data_dir))
    assert "idle" not in [t["tenant"] for t in json.loads(listing.stdout)]


def test_tenant_delete_is_in_the_audit_trail(tmp_path: Path) -> None:
    """Every attempt, with its true outcome and the local user who ran it: refused (it still
    owns a client), no such tenant (the name asked for is not recorded), deleted, erased."""
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o700)
    for tenant in ("idle", "busy"):
        assert run_cli("tenant", "create", tenant, "--data-dir", str(data_dir)).returncode == 0
    client = ("client", "create", "--tenant", "busy", "--name", "app", "--scopes", "verify")
    assert run_cli(*client, "--data-dir", str(data_dir)).returncode == 0
    attempts = [("busy",), ("ghost",), ("busy", "--force", "--erase"), ("idle",)]
    codes = [
        run_cli("tenant", "delete", *args, "--data-dir", str(data_dir)).returncode
        for args in attempts
    ]
    assert codes == [1, 1, 0, 0]
    entries = audit_trail(data_dir, "--action", "tenant.delete")
    assert [(e["tenant"], e["target"], e["outcome"]) for e in entries] == [
        ("busy", "-", "preconditionfailed"),
        ("-", "-", "notfound"),
        ("busy", "busy", "ok erased"),
        ("idle", "idle", "ok"),
    ]
    assert all(str(e["caller"]).startswith("cli:") for e in entries)
    assert {e["source"] for e in entries} == {"local"}
