"""PostgreSQL migration 005 on a database written by the previous version, as
test_sqlite_budget.py for SQLite: a backoff in progress keeps holding, the new columns start at
zero, and the budget works on the upgraded rows (#9, #11)."""

from __future__ import annotations

import psycopg

from otpd.core.model import ThrottleState
from otpd.core.policy import LOCKED_FOREVER
from otpd.store import migrate, pg_connect
from otpd.store.postgres import PostgresStore
from tests.support.pgserver import PgServer

NOW = 1_700_000_000


def test_upgrade_from_version_4_keeps_a_backoff_in_progress(pg_server: PgServer) -> None:
    url = pg_server.create_database("pgbudget")
    with psycopg.connect(url, autocommit=True) as conn:
        old = [m for m in pg_connect.migrations() if m.version <= 4]
        insert_version = "INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)"
        migrator = pg_connect.Migrator(conn)
        migrate.apply(
            migrator, old, split=lambda script: [script], begin="BEGIN", record=insert_version
        )
        conn.execute("INSERT INTO tenant (id, settings, created_at) VALUES ('acme', %s, 0)",
                     ('{"phenixid_auth": "basic", "allowed_operations": [],'
                      ' "client_cert_subjects": []}',))  # fmt: skip
        conn.execute(
            "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew,"
            " key_size, issuer, account_name, created_at_us, secret, last_step, failures,"
            " not_before) VALUES (1, 'acme', 'bob', 'sha1', 6, 30, 1, 20, 'i', 'a', 0,"
            " '\\x00', 77, 6, %s)",
            (NOW + 60,),
        )
    store = PostgresStore(url)
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
