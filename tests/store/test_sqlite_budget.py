"""Migration 005 on a database written by the previous version: a backoff in progress keeps
holding, the new columns start at zero, and the budget works on the upgraded rows (#9)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from otpd.core.model import ThrottleState
from otpd.core.policy import LOCKED_FOREVER
from otpd.store import migrate
from otpd.store.sqlite import SqliteStore
from otpd.store.sqlite_connect import split as _split

NOW = 1_700_000_000


def test_upgrade_from_version_4_keeps_a_backoff_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "otpd.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate.apply(conn, [m for m in migrate.load() if m.version <= 4], split=_split)
        conn.execute("INSERT INTO tenant (id, settings, created_at) VALUES ('acme', ?, 0)",
                     ('{"phenixid_auth": "basic", "allowed_operations": [],'
                      ' "client_cert_subjects": []}',))  # fmt: skip
        conn.execute(
            "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew,"
            " key_size, issuer, account_name, created_at_us, secret, last_step, failures,"
            " not_before) VALUES (1, 'acme', 'bob', 'sha1', 6, 30, 1, 20, 'i', 'a', 0,"
            " x'00', 77, 6, ?)",
            (NOW + 60,),
        )
    store = SqliteStore(path)
    try:
        record = store.get_credential("acme", "bob")
        assert record is not None
        assert (record.throttle, record.refused, record.last_step) == (
            ThrottleState(6, NOW + 60, 0),
            0,
            77,
        )
        assert store.advance(1, 100, now=NOW) is False  # still throttled after the upgrade
        assert store.record_failure(1, NOW, lambda n: ThrottleState(n)) is None
        assert store.record_failure(
            1, NOW + 60, lambda n: ThrottleState(n, LOCKED_FOREVER, 0)
        ) == ThrottleState(7, LOCKED_FOREVER, 0)
        assert store.advance(1, 100, now=NOW + 10**6) is False  # locked
        assert store.reset_failures("acme", "bob") is True
        assert store.advance(1, 100, now=NOW + 10**6) is True
        record = store.get_credential("acme", "bob")
        assert record is not None and record.refused == 1
    finally:
        store.close()
