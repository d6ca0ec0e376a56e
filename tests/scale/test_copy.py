"""`otpd copy` SQLite -> PostgreSQL -> SQLite (issue #11): every credential verifies afterwards,
a code used before the copy stays refused, a throttled or locked credential stays so (the guess
budget's columns of #9 are carried), counts match, a non-empty target is refused."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import psycopg
import pyotp
import pytest

from otpd.core.policy import LOCKED_FOREVER
from tests.support.clients import Cred
from tests.support.deployment import Deployment, share_seal_key, start_deployment
from tests.support.pgserver import PgServer
from tests.support.scale import strongbox, token2
from tests.support.server import Server, run_cli

DB_PASSWORD = "copy-pass-never-shown"


def _code(cred: Cred, offset: int) -> str:
    """The code of the step `offset` periods from now. The window allows -1..+1, so 0 and +1
    stay valid even if the step changes before the request arrives."""
    return str(pyotp.TOTP(base64.b32encode(cred.secret).decode()).at(time.time() + offset * 30))


def _copy(source: str, target: str) -> dict[str, int]:
    result = run_cli("copy", "--from", source, "--to", target)
    assert result.returncode == 0, result.stderr
    assert "credential" in result.stderr and "[" in result.stderr  # the progress bar
    assert DB_PASSWORD not in result.stderr + result.stdout
    counts: dict[str, int] = json.loads(result.stdout)
    return counts


def _throttle_state(path: Path) -> list[tuple[int, int, int]]:
    with closing(sqlite3.connect(path)) as conn:
        return [tuple(row) for row in conn.execute(_STATE)]


_STATE = "SELECT last_step, failures, not_before, throttled_at, refused FROM credential ORDER BY id"


def _throttle(path: Path, throttled: Cred, locked: Cred) -> None:
    """A backoff in progress on one credential and a spent guess budget on another, written as
    the server would (core.policy), with refusals counted."""
    now = int(time.time())
    with closing(sqlite3.connect(path)) as conn, conn:
        sql = "UPDATE credential SET failures = ?, not_before = ?, throttled_at = ?, refused = ?"
        conn.execute(sql + " WHERE name = ?", (4, now + 3600, now, 2, throttled.name))
        conn.execute(sql + " WHERE name = ?", (20, LOCKED_FOREVER, 0, 5, locked.name))


@pytest.mark.slow
def test_copy_sqlite_to_postgres_and_back(pg_server: PgServer, tmp_path: Path) -> None:
    first_dir, pg_dir, back_dir = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    with start_deployment(first_dir, "copy-a", roles=("admin",)) as cluster:
        _check_copies(cluster, pg_server, first_dir, pg_dir, back_dir)


def _check_copies(
    cluster: Deployment, pg_server: PgServer, first_dir: Path, pg_dir: Path, back_dir: Path
) -> None:
    server = cluster.server
    creds = cluster.createusers(5)
    used = _code(creds[0], 0)
    assert strongbox(cluster, server)(creds[0], used)
    wrong = "000000" if _code(creds[1], 0) != "000000" else "111111"
    assert not token2(cluster, server)(creds[1], wrong)  # one failure to carry over
    server.stop()
    throttled, locked = creds[2], creds[3]
    free = [creds[1], creds[4]]
    _throttle(first_dir / "otpd.sqlite3", throttled, locked)
    sqlite_url = f"sqlite:///{first_dir / 'otpd.sqlite3'}"
    before = _throttle_state(first_dir / "otpd.sqlite3")

    pg_url = pg_server.create_database("copy").replace("otpd@", f"otpd:{DB_PASSWORD}@")
    counts = _copy(sqlite_url, pg_url)
    assert counts["credential"] == 5 and counts["tenant"] == 1 and counts["meta"] == 2
    with psycopg.connect(pg_url) as conn:  # replay and throttle state carried as they were
        assert [tuple(row) for row in conn.execute(_STATE)] == before
    assert (before[1][1], before[2][4], before[3][2]) == (1, 2, LOCKED_FOREVER)
    refused = run_cli("copy", "--from", sqlite_url, "--to", pg_url)
    assert refused.returncode == 1 and "is not empty" in refused.stderr
    assert DB_PASSWORD not in refused.stderr

    share_seal_key(first_dir, pg_dir)
    with Server(pg_dir, "--database", pg_url, name="copy-b") as server:
        assert not strongbox(cluster, server)(creds[0], used)  # still used after the copy
        for cred in (throttled, locked):  # the right code, refused unevaluated
            assert not strongbox(cluster, server)(cred, _code(cred, 0))
        for cred in free:
            assert strongbox(cluster, server)(cred, _code(cred, 0))

    back_url = f"sqlite:///{back_dir / 'otpd.sqlite3'}"
    back_dir.mkdir()
    # The same rows, plus the bearer token the PostgreSQL instance issued at login and the
    # audit trail's rows of what it did.
    back = _copy(pg_url, back_url)
    assert back["audit"] > counts["audit"] > 0
    assert back == {**counts, "token": counts["token"] + 1, "audit": back["audit"]}
    after = _throttle_state(back_dir / "otpd.sqlite3")
    assert after[0][0] == before[0][0]  # the replay step came back unchanged
    # Still throttled and locked, with the refusals PostgreSQL counted (one each).
    assert after[2] == (*before[2][:4], before[2][4] + 1)
    assert after[3] == (*before[3][:4], before[3][4] + 1)
    share_seal_key(first_dir, back_dir)
    with Server(back_dir, name="copy-c") as server:
        assert not token2(cluster, server)(creds[0], used)
        for cred in (throttled, locked):
            assert not token2(cluster, server)(cred, _code(cred, 1))
        for cred in [creds[0], *free]:
            assert token2(cluster, server)(cred, _code(cred, 1))
