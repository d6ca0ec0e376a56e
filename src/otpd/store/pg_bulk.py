"""PostgresStore's bulk writes for import and restore (issue #17, core.ports.BulkCredentialStore).

The statements are sqlite.py's own with PostgreSQL spellings (GREATEST for MAX, `= ANY` for a
list, bigint casts so `/` is integer division); a batch is one transaction on one connection,
its rows sent with executemany, which psycopg 3 pipelines (one round trip per batch, not per
row: https://www.psycopg.org/psycopg3/docs/advanced/pipeline.html).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from typing import Any

import psycopg

from otpd.core.errors import NotFound
from otpd.core.model import CredentialRecord
from otpd.store import sql_statements
from otpd.store.pg_connect import pg_sql as _pg
from otpd.store.sql_rows import credential_config, credential_from_row

__all__ = ["BY_NAMES", "RAISE_FLOOR", "write_batch"]

BY_NAMES = _pg(sql_statements.CREDENTIAL) + "WHERE tenant = %s AND name = ANY(%s)"
_INSERT = _pg(sql_statements.INSERT_CREDENTIAL)
# An imported replacement never lowers the replay state: a spent code stays spent.
_REPLACE = _pg(
    sql_statements.IMPORT_REPLACE.replace("MAX(last_step, ?)", "GREATEST(last_step, ?::bigint)")
)
_DELETE_TICKETS = "DELETE FROM enrolment_ticket WHERE tenant = %s AND credential_id = %s"
# The time step of `now` in each credential's period plus its forward window: every code it
# could have accepted before `now` is spent.
RAISE_FLOOR = "UPDATE credential SET last_step = GREATEST(last_step, %s::bigint / period + skew)"


def by_names(rows: Sequence[Any]) -> dict[str, CredentialRecord]:
    records = (credential_from_row(row) for row in rows)
    return {record.name: record for record in records}


def write_batch(
    cur: psycopg.Cursor[Any],
    inserts: Sequence[CredentialRecord],
    replaces: Sequence[CredentialRecord],
) -> None:
    """Inside the caller's transaction: NotFound (and so a rollback) if a replaced row is gone."""
    if inserts:
        cur.executemany(_INSERT, [_insert_row(r) for r in inserts])
    if replaces:
        rows = [
            (*credential_config(r), r.sealed_secret, r.last_step, r.id, r.tenant) for r in replaces
        ]
        cur.executemany(_REPLACE, rows)
        if cur.rowcount != len(replaces):  # psycopg sums executemany's rowcounts
            raise NotFound("no such credential")
        cur.executemany(_DELETE_TICKETS, [(r.tenant, r.id) for r in replaces])


def _insert_row(r: CredentialRecord) -> tuple[object, ...]:
    head = (r.id, r.tenant, *credential_config(r), r.created_at_us, r.sealed_secret)
    return (*head, r.last_step, *astuple(r.throttle), r.refused)
