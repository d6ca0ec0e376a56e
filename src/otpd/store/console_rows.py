"""The admin console's tables (issue #16) for the SQL and memory stores: ports.ConsoleStore.

Mixins like radius_rows.py: they use the host store's plumbing (sql_rows.SqlHost), so sqlite.py
and postgres.py each gain them with one base class.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from otpd.core.console import AdminAccount, ConsoleSession, CredentialPage
from otpd.core.errors import AlreadyExists, NotFound
from otpd.core.model import CredentialRecord, Tenant, TokenRecord
from otpd.store import sql_statements
from otpd.store.sql_rows import NamedRow, SqlHost, credential_from_row, record_from_row

__all__ = ["MemoryConsoleRows", "SqlConsoleRows"]

_ADMIN = "SELECT name, tenant, password_hash, credential, created_at FROM console_admin "
# Credential names are ASCII below DEL (core.model.CREDENTIAL_NAME), so every name starting
# with `prefix` sorts in [prefix, prefix + DEL): one range on the UNIQUE (tenant, name) index.
_PREFIX_END = "\x7f"


def _admin(row: NamedRow) -> AdminAccount:
    return record_from_row(AdminAccount, row)


def _session(row: NamedRow) -> ConsoleSession:
    return record_from_row(ConsoleSession, row)


class SqlConsoleRows(SqlHost):
    """For a SQL store (sql_rows.SqlHost)."""

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return self._named(self._sql(sql), params)

    def _write(self, sql: str, params: Sequence[object], what: str) -> int:
        return self._change(self._sql(sql), params, what)

    def insert_admin(self, admin: AdminAccount) -> None:
        if self.get_admin(admin.name) is not None:
            raise AlreadyExists("admin exists")
        sql = (
            "INSERT INTO console_admin (name, tenant, password_hash, credential, created_at)"
            " VALUES (?, ?, ?, ?, ?)"
        )
        a = admin
        self._write(sql, (a.name, a.tenant, a.password_hash, a.credential, a.created_at), "admin")

    def get_admin(self, name: str) -> AdminAccount | None:
        rows = self._rows(_ADMIN + "WHERE name = ?", (name,))
        return _admin(rows[0]) if rows else None

    def insert_session(self, session: ConsoleSession) -> None:
        s = session
        self._write(
            "INSERT INTO console_session (session_hash, admin, csrf, created_at_us, seen_at_us)"
            " VALUES (?, ?, ?, ?, ?)",
            (s.session_hash, s.admin, s.csrf, s.created_at_us, s.seen_at_us),
            "session",
        )

    def touch_session(
        self, session_hash: str, now_us: int, idle_us: int, absolute_us: int
    ) -> ConsoleSession | None:
        # One UPDATE ... RETURNING: the timeouts are checked in the statement that renews.
        sql = (
            "UPDATE console_session SET seen_at_us = ? WHERE session_hash = ?"
            " AND seen_at_us > ? AND created_at_us > ?"
            " RETURNING session_hash, admin, csrf, created_at_us, seen_at_us"
        )
        with getattr(self, "_write_lock", contextlib.nullcontext()):
            rows = self._rows(sql, (now_us, session_hash, now_us - idle_us, now_us - absolute_us))
        if rows:
            return _session(rows[0])
        self.delete_session(session_hash)  # expired (or never was): gone either way
        return None

    def delete_session(self, session_hash: str) -> None:
        self._write("DELETE FROM console_session WHERE session_hash = ?", (session_hash,), "s")

    def delete_sessions_older_than(self, seen_before_us: int) -> int:
        sql = "DELETE FROM console_session WHERE seen_at_us <= ?"
        return self._write(sql, (seen_before_us,), "session")

    def set_credential_state(self, tenant_id: str, name: str, state: str) -> bool:
        sql = "UPDATE credential SET state = ? WHERE tenant = ? AND name = ?"
        return bool(self._write(sql, (state, tenant_id, name), "credential"))

    def search_credentials(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> CredentialPage:
        # One lower bound, so the planner seeks straight to it on the index (two lower bounds
        # made SQLite scan from the first: a deep page cost 1,000 point lookups).
        if after >= prefix:
            lower, start = "name > ?", after
        else:
            lower, start = "name >= ?", prefix
        sql = (
            sql_statements.CREDENTIAL
            + f"WHERE tenant = ? AND {lower} AND name < ? ORDER BY name LIMIT ?"
        )
        params = (tenant_id, start, prefix + _PREFIX_END, limit + 1)
        rows = [credential_from_row(row) for row in self._rows(sql, params)]
        return _page(rows, limit)


def _page(rows: list[CredentialRecord], limit: int) -> CredentialPage:
    if len(rows) > limit:
        return CredentialPage(rows[:limit], rows[limit - 1].name)
    return CredentialPage(rows, None)


class MemoryConsoleRows:
    """The same contract for otpd.store.memory.MemoryStore, under its one lock."""

    _lock: threading.Lock
    _tenants: dict[str, Tenant]
    _credentials: dict[int, CredentialRecord]
    _clients: dict[tuple[str, str], Any]
    _tokens: dict[str, TokenRecord]

    def _console(self) -> dict[str, Any]:
        tables: dict[str, Any] | None = getattr(self, "_console_tables", None)
        if tables is None:
            tables = {"admin": {}, "session": {}}
            self._console_tables = tables
        return tables

    def insert_admin(self, admin: AdminAccount) -> None:
        with self._lock:
            if admin.tenant is not None and admin.tenant not in self._tenants:
                raise NotFound("no such tenant")
            if admin.name in self._console()["admin"]:
                raise AlreadyExists("admin exists")
            self._console()["admin"][admin.name] = admin

    def get_admin(self, name: str) -> AdminAccount | None:
        with self._lock:
            found: AdminAccount | None = self._console()["admin"].get(name)
            return found

    def insert_session(self, session: ConsoleSession) -> None:
        with self._lock:
            self._console()["session"][session.session_hash] = session

    def touch_session(
        self, session_hash: str, now_us: int, idle_us: int, absolute_us: int
    ) -> ConsoleSession | None:
        with self._lock:
            table = self._console()["session"]
            found: ConsoleSession | None = table.pop(session_hash, None)
            if found is None:
                return None
            if found.seen_at_us <= now_us - idle_us or found.created_at_us <= now_us - absolute_us:
                return None
            table[session_hash] = replace(found, seen_at_us=now_us)
            return table[session_hash]  # type: ignore[no-any-return]

    def delete_session(self, session_hash: str) -> None:
        with self._lock:
            self._console()["session"].pop(session_hash, None)

    def delete_sessions_older_than(self, seen_before_us: int) -> int:
        with self._lock:
            table = self._console()["session"]
            old = [k for k, s in table.items() if s.seen_at_us <= seen_before_us]
            for key in old:
                del table[key]
            return len(old)

    def set_credential_state(self, tenant_id: str, name: str, state: str) -> bool:
        with self._lock:
            for record in self._credentials.values():
                if record.tenant == tenant_id and record.name == name:
                    self._credentials[record.id] = replace(record, state=state)
                    return True
            return False

    def search_credentials(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> CredentialPage:
        with self._lock:
            rows = sorted(
                (
                    r
                    for r in self._credentials.values()
                    if r.tenant == tenant_id and r.name.startswith(prefix) and r.name > after
                ),
                key=lambda r: r.name,
            )
        return _page(rows[: limit + 1], limit)
