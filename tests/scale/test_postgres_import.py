"""`otpd import --database postgresql://...` (issues #11, #17): the CLI imports into a real
PostgreSQL, the replay floor is applied there, a real server on that database verifies an
imported credential's code and refuses the codes the floor spent, and export reads it back."""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

import psycopg
import pyotp

from tests.support import builders as b
from tests.support import server as harness
from tests.support.clients import Cred
from tests.support.deployment import prepare
from tests.support.pgserver import PgServer
from tests.support.scale import strongbox
from tests.support.server import run_cli


def _import(data_dir: Path, pg_url: str, export: Path, *extra: str) -> dict[str, object]:
    args = ["--tenant", "acme", "--format", "otpauth", "--data-dir", str(data_dir)]
    result = run_cli("import", *args, "--database", pg_url, "--json", *extra, str(export))
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def _steps(pg_url: str) -> dict[str, int]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute("SELECT name, last_step FROM credential").fetchall()
    return {str(name): int(step) for name, step in rows}


def _code(secret: bytes, step: int) -> str:
    return str(pyotp.TOTP(base64.b32encode(secret).decode()).at(step * 30))


def test_import_into_postgres_applies_the_floor_and_verifies(
    pg_server: PgServer, tmp_path: Path
) -> None:
    pg_url = pg_server.create_database("import")
    data_dir = tmp_path / "node"
    cluster = prepare(data_dir, roles=("admin",), database=pg_url)
    alice, bob = (b.Cred(name, secrets.token_bytes(20)) for name in ("alice", "bob"))
    for cred in (alice, bob):
        harness.register_secret(cred.secret)
    first, second = tmp_path / "alice.txt", tmp_path / "bob.txt"
    first.write_bytes(b.otpauth([alice]))
    second.write_bytes(b.otpauth([bob]))

    before = int(time.time()) // 30
    assert _import(data_dir, pg_url, first, "--replay-floor", "now+0")["imported"] == 1
    assert _import(data_dir, pg_url, second)["imported"] == 1  # the default floor: now+1
    steps = _steps(pg_url)
    assert before <= steps["alice"] <= int(time.time()) // 30
    assert steps["bob"] >= before + 1
    assert steps["bob"] - steps["alice"] in (1, 2)

    with cluster.start("pg-import"):
        verify = strongbox(cluster, cluster.server)
        names = {c: Cred(c.account, c.secret) for c in (alice, bob)}
        # The floor's own step is spent; the next one, still inside the window, is not.
        assert not verify(names[alice], _code(alice.secret, steps["alice"]))
        assert verify(names[alice], _code(alice.secret, steps["alice"] + 1))
        assert not verify(names[bob], _code(bob.secret, steps["bob"]))
        assert not verify(names[bob], _code(bob.secret, steps["bob"] - 1))
    assert _steps(pg_url)["alice"] == steps["alice"] + 1  # consumed in PostgreSQL
    exp = ["export", "--tenant", "acme", "--data-dir", str(data_dir), "--database", pg_url]
    plain = run_cli(*exp, "--format", "otpauth", "--insecure-plaintext", "--select", "bob", "-")
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert len(lines) == 1 and f"secret={b.b32(bob.secret)}" in lines[0]
