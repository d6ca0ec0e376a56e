"""The SQLite store's bulk import and backup, as a mixin (like
client_rows.py) so sqlite.py stays short; it uses the host store's own plumbing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path

from otpd.core.errors import NotFound
from otpd.core.model import CredentialRecord
from otpd.store.sql_rows import SqlHost, credential_config, credential_from_row
from otpd.store.sql_statements import (
    ALLOCATE_IDS,
    CREDENTIAL,
    IMPORT_REPLACE,
    INSERT_CREDENTIAL,
)
from otpd.store.sqlite_connect import translate

__all__ = ["SqliteBulkRows"]


class SqliteBulkRows(SqlHost):
    """For sqlite.SqliteStore: the plumbing (sql_rows.SqlHost), `_connection` and
    `_write_lock` are the host store's."""

    _write_lock: threading.Lock

    def _connection(self) -> sqlite3.Connection:
        raise NotImplementedError  # the host store's

    # --- bulk import, backup and restore (issue #17, otpd.core.ports.BulkCredentialStore) --
    def allocate_credential_ids(self, count: int) -> list[int]:
        with self._write_lock:
            rows = self._query(ALLOCATE_IDS, (count,))
        last = int(rows[0][0])  # the one value RETURNING gives
        return list(range(last - count + 1, last + 1))

    def get_credentials_by_name(
        self, tenant_id: str, names: Sequence[str]
    ) -> dict[str, CredentialRecord]:
        found: dict[str, CredentialRecord] = {}
        for start in range(0, len(names), 500):  # SQLite allows 32766 parameters; stay small
            chunk = list(names[start : start + 500])
            marks = ",".join("?" * len(chunk))
            sql = CREDENTIAL + f"WHERE tenant = ? AND name IN ({marks})"
            for row in self._named(sql, (tenant_id, *chunk)):
                record = credential_from_row(row)
                found[record.name] = record
        return found

    def write_credentials(
        self, inserts: Sequence[CredentialRecord], replaces: Sequence[CredentialRecord]
    ) -> None:
        insert_rows = [
            (
                r.id,
                r.tenant,
                *credential_config(r),
                r.created_at_us,
                r.sealed_secret,
                r.last_step,
                *astuple(r.throttle),
                r.refused,
            )
            for r in inserts
        ]
        replace_rows = [
            (*credential_config(r), r.sealed_secret, r.last_step, r.id, r.tenant) for r in replaces
        ]
        with self._transaction("credential") as conn:
            conn.executemany(INSERT_CREDENTIAL, insert_rows)
            for params in replace_rows:
                if conn.execute(IMPORT_REPLACE, params).rowcount != 1:
                    raise NotFound("no such credential")
            conn.executemany(
                "DELETE FROM enrolment_ticket WHERE tenant = ? AND credential_id = ?",
                [(r.tenant, r.id) for r in replaces],
            )

    def raise_replay_floor(self, now: int) -> int:
        # Integer division: the time step of `now` for each credential's period, plus its
        # forward window, so every code it could have accepted before `now` is spent.
        sql = "UPDATE credential SET last_step = MAX(last_step, ? / period + skew)"
        return self._change(sql, (now,), "credential")

    def backup_to(self, target: Path) -> None:
        """A consistent copy through SQLite's online backup API (https://sqlite.org/backup.html).
        In one step: under WAL a reader does not block writers, and a stepwise copy would
        restart each time another process writes (https://sqlite.org/c3ref/backup_finish.html)."""
        with translate("backup"):
            dest = sqlite3.connect(target)
            try:
                self._connection().backup(dest)
            finally:
                dest.close()
