"""The SQLite CredentialStore: the embedded default, the twin of `memory.MemoryStore`.

Every method is one autocommit statement or one `BEGIN IMMEDIATE` transaction, so each is
atomic across threads and across processes sharing the file (docs/requirements.md#single-use,
docs/requirements.md#throttling). sqlite3 connections must stay in their thread, and the web server
calls the store from a thread pool, so each thread gets its own connection, opened on first use.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import astuple
from pathlib import Path
from typing import Any

from otpd.core.errors import ConfigError, NotFound, StoreUnavailable
from otpd.core.model import ApiClient, CredentialRecord, Tenant, ThrottleState, TokenRecord
from otpd.store.audit_rows import SqlAuditRows
from otpd.store.client_rows import SqlClientRows, client_from_row
from otpd.store.console_rows import SqlConsoleRows
from otpd.store.group_commit import GroupCommit
from otpd.store.key_rows import SqlKeyRows
from otpd.store.radius_rows import SqlRadiusRows
from otpd.store.sql_rows import (
    credential_config,
    credential_from_row,
    tenant_from_row,
    tenant_settings,
)
from otpd.store.sql_statements import (
    _ADVANCE,
    _BEARER,
    _BY_KEY,
    _CLIENT,
    _COUNT_FAILURE,
    _CREDENTIAL,
    _REFUSE,
    _REPLACE,
    _REPLACE_AND_RESET,
    _TENANT,
)
from otpd.store.sqlite_bulk import SqliteBulkRows
from otpd.store.sqlite_connect import (
    MIN_SQLITE,
    SYNCHRONOUS,
    Connection,
    connect,
    domain_error,
    prepare,
    translate,
)
from otpd.store.ticket_rows import SqlTicketRows

__all__ = ["SqliteStore"]

_NO_THROTTLE_CHECK = 2**63 - 1  # advance() without `now`: no not_before is that late


class SqliteStore(  # + RADIUS (#15), console (#16), keys, clients (#14), audit (#13)
    SqlRadiusRows,
    SqlConsoleRows,
    SqlKeyRows,
    SqlClientRows,
    SqlAuditRows,
    SqliteBulkRows,
    SqlTicketRows,
):
    def __init__(
        self, path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 10000
    ) -> None:
        mode = synchronous.upper() if isinstance(synchronous, str) else ""
        if mode not in SYNCHRONOUS:
            raise ConfigError("SQLite synchronous must be FULL or NORMAL")
        if type(busy_timeout_ms) is not int or busy_timeout_ms < 0:
            raise ConfigError("SQLite busy timeout must be a whole number of milliseconds >= 0")
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise ConfigError(f"SQLite {sqlite3.sqlite_version} is too old; otpd needs 3.35+")
        self._path = Path(path)
        self._synchronous = mode
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        # Writers of this process queue on a Python lock instead of SQLite's busy handler,
        # which sleeps in steps of up to 100 ms: bench/server_choice.py measured p99 ~1 s under
        # synchronous=FULL without it. Other processes still meet SQLite's own lock
        # (docs/requirements.md#database-faults).
        self._write_lock = threading.Lock()
        self._connections: weakref.WeakSet[Connection] = weakref.WeakSet()
        # The verification writes share one transaction and one sync per batch (issue #12).
        self._group = GroupCommit(self._write_lock, self._connection, domain_error)
        self._closed = False
        try:
            prepare(self._connection(), self._path, busy_timeout_ms)
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"cannot open the SQLite database {self._path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # --- tenants and API clients ---------------------------------------------------------
    def create_tenant(self, tenant: Tenant) -> None:
        self._change(
            "INSERT INTO tenant (id, settings, created_at) VALUES (?, ?, ?)",
            (tenant.id, tenant_settings(tenant), tenant.created_at),
            "tenant",
        )

    def update_tenant(self, tenant: Tenant) -> None:
        changed = self._change(
            "UPDATE tenant SET settings = ?, created_at = ? WHERE id = ?",
            (tenant_settings(tenant), tenant.created_at, tenant.id),
            "tenant",
        )
        if not changed:
            raise NotFound("no such tenant")

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        rows = self._named(_TENANT + "WHERE id = ?", (tenant_id,))
        return tenant_from_row(rows[0]) if rows else None

    def list_tenants(self) -> list[Tenant]:
        return [tenant_from_row(row) for row in self._named(_TENANT + "ORDER BY id")]

    def create_client(self, client: ApiClient) -> None:
        # INSERT ... SELECT so a missing tenant reads as NotFound even when the key hash
        # clashes with another tenant's client, as in MemoryStore.
        scopes = ",".join(sorted(client.scopes))
        inserted = self._change(
            "INSERT INTO api_client (tenant, name, scopes, key_hash, created_at)"
            " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tenant WHERE id = ?)",
            (client.tenant, client.name, scopes, client.key_hash, client.created_at, client.tenant),
            "client",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def find_client_by_key_hash(self, key_hash: str) -> ApiClient | None:
        rows = self._query(_CLIENT + _BY_KEY, (key_hash, key_hash))
        return client_from_row(rows[0]) if rows else None

    def list_clients(self, tenant_id: str) -> list[ApiClient]:
        rows = self._query(_CLIENT + "WHERE tenant = ? ORDER BY name", (tenant_id,))
        return [client_from_row(row) for row in rows]

    def get_client(self, tenant_id: str, name: str) -> ApiClient | None:
        rows = self._query(_CLIENT + "WHERE tenant = ? AND name = ?", (tenant_id, name))
        return client_from_row(rows[0]) if rows else None

    # --- credentials ---------------------------------------------------------------------
    def allocate_credential_id(self) -> int:
        with self._write_lock:
            rows = self._query("UPDATE credential_id_seq SET value = value + 1 RETURNING value")
        return int(rows[0][0])

    def insert_credential(self, record: CredentialRecord) -> None:
        head = (record.id, record.tenant, *credential_config(record), record.created_at_us)
        state = (record.last_step, *astuple(record.throttle), record.refused)
        inserted = self._change(
            "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew,"
            " key_size, issuer, account_name, email, phone, created_at_us, secret, last_step,"
            " failures, not_before, throttled_at, refused)"
            " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
            " WHERE EXISTS (SELECT 1 FROM tenant WHERE id = ?)",
            (*head, record.sealed_secret, *state, record.tenant),
            "credential",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def replace_credential(
        self,
        record: CredentialRecord,
        *,
        reset_state: bool,
        expect_version: int | None = None,
    ) -> bool:
        # One statement: the id and created_at_us stay. Without reset_state the failure
        # columns are not written, and last_step only rescaled from its current value, so a
        # concurrent advance() is never undone.
        row = (record.id, record.tenant, expect_version, expect_version)
        rescale: tuple[int, ...] = ()
        if reset_state:
            sql = _REPLACE_AND_RESET
        else:
            sql, rescale = _REPLACE, (record.params.period,)
        params = (*credential_config(record), record.sealed_secret, *rescale, *row)
        return bool(self._change(sql, params, "credential"))

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None:
        rows = self._named(_CREDENTIAL + "WHERE tenant = ? AND name = ?", (tenant_id, name))
        return credential_from_row(rows[0]) if rows else None

    def get_credential_by_id(self, tenant_id: str, credential_id: int) -> CredentialRecord | None:
        # The tenant is part of the key: another tenant's id reads as missing
        # (docs/requirements.md#tenancy).
        rows = self._named(_CREDENTIAL + "WHERE id = ? AND tenant = ?", (credential_id, tenant_id))
        return credential_from_row(rows[0]) if rows else None

    def list_credentials(self, tenant_id: str) -> list[CredentialRecord]:
        rows = self._named(_CREDENTIAL + "WHERE tenant = ? ORDER BY name", (tenant_id,))
        return [credential_from_row(row) for row in rows]

    def count_credentials(self, tenant_id: str) -> int:
        rows = self._query("SELECT COUNT(*) FROM credential WHERE tenant = ?", (tenant_id,))
        return int(rows[0][0])

    def delete_credential(
        self, tenant_id: str, name: str, *, expect_version: int | None = None
    ) -> bool:
        sql = "DELETE FROM credential WHERE tenant = ? AND name = ? AND (? IS NULL OR version = ?)"
        params = (tenant_id, name, expect_version, expect_version)
        return bool(self._change(sql, params, "credential"))

    # --- verification state: the invariants ----------------------------------------------
    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        # The compare-and-set is one statement under SQLite's write lock, and its
        # `last_step < ?` guard means the stored step never moves back
        # (docs/requirements.md#single-use). True only after the group commit holding the write
        # returned (store.group_commit), so the step is on disk with the configured synchronous
        # (docs/requirements.md#durable-before-success). With `now`, a credential throttled at
        # `now` is not consumed either: the throttle test and the consumption are one atomic
        # step (docs/requirements.md#throttling).
        limit = now if now is not None else _NO_THROTTLE_CHECK
        params = (new_step, credential_id, new_step, limit, limit)
        return self._group.run(
            lambda conn: conn.execute(_ADVANCE, params).rowcount == 1, "credential", statement=True
        )

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], ThrottleState]
    ) -> ThrottleState | None:
        # The increment and the policy's verdict happen in one savepoint of a group commit,
        # under the write lock, so parallel guesses cannot both read the same count. A
        # throttled credential counts a refusal only (docs/requirements.md#throttling).
        def write(conn: sqlite3.Connection) -> ThrottleState | None:
            rows = conn.execute(_COUNT_FAILURE, (credential_id, now, now)).fetchall()
            if not rows:
                conn.execute(_REFUSE, (credential_id,))
                return None
            state = next_state(int(rows[0][0]))
            conn.execute(
                "UPDATE credential SET failures = ?, not_before = ?, throttled_at = ? WHERE id = ?",
                (state.failures, state.not_before, state.since, credential_id),
            )
            return state

        return self._group.run(write, "credential")

    def record_refusal(self, credential_id: int) -> None:
        # Group-committed like record_failure, so a throttled attempt costs the same write.
        self._group.run(
            lambda conn: conn.execute(_REFUSE, (credential_id,)), "credential", statement=True
        )

    def reset_failures(self, tenant_id: str, name: str) -> bool:
        sql = (
            "UPDATE credential SET failures = 0, not_before = 0, throttled_at = 0"
            " WHERE tenant = ? AND name = ?"
        )
        return bool(self._change(sql, (tenant_id, name), "credential"))

    def record_unknown_attempt(self, tenant_id: str) -> None:
        # Group-committed like record_failure, so the two cost the same write
        # (docs/requirements.md#equal-work).
        sql = "UPDATE tenant SET unknown_attempts = unknown_attempts + 1 WHERE id = ?"
        self._group.run(lambda conn: conn.execute(sql, (tenant_id,)), "tenant", statement=True)

    def unknown_attempts(self, tenant_id: str) -> int:
        rows = self._query("SELECT unknown_attempts FROM tenant WHERE id = ?", (tenant_id,))
        return int(rows[0][0]) if rows else 0

    # --- bearer tokens ------------------------------------------------------------------
    def insert_token(self, token: TokenRecord) -> None:
        sql = (
            "INSERT INTO token (token_hash, accessor, tenant, client, created_at_us,"
            " renewed_at_us, expires_at_us, client_key_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._change(sql, astuple(token), "token")  # columns in TokenRecord field order

    def get_token(self, token_hash: str) -> TokenRecord | None:
        rows = self._query(_BEARER + "WHERE token_hash = ?", (token_hash,))
        return TokenRecord(*rows[0]) if rows else None

    def renew_token(self, token_hash: str, renewed_at_us: int, expires_at_us: int) -> bool:
        # The expiry test is in the WHERE clause, so a renewal racing the clock cannot revive
        # an expired token.
        sql = (
            "UPDATE token SET renewed_at_us = ?, expires_at_us = ?"
            " WHERE token_hash = ? AND expires_at_us > ?"
        )
        params = (renewed_at_us, expires_at_us, token_hash, renewed_at_us)
        return self._change(sql, params, "token") == 1

    def delete_expired_tokens(self, now_us: int) -> int:
        sql = "DELETE FROM token WHERE expires_at_us <= ?"
        return self._change(sql, (now_us,), "token")

    # --- small named values --------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def put_meta_if_absent(self, key: str, value: str) -> bool:
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
        return bool(self._change(sql, (key, value), "meta"))

    def close(self) -> None:
        """Close every connection this thread may close; sqlite3 refuses the others, which
        close when their thread ends. The store is unusable afterwards."""
        self._closed = True
        for conn in list(self._connections):
            with suppress(sqlite3.ProgrammingError):
                conn.close()
        self._local.__dict__.pop("conn", None)

    # --- plumbing ------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self._path, self._synchronous, self._busy_timeout_ms)
            self._connections.add(conn)
            self._local.conn = conn
        return conn

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with translate("row"):
            return self._connection().execute(sql, params).fetchall()

    def _named(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        """Rows read by column name (sql_rows.py's mapping functions)."""
        with translate("row"):
            cursor = self._connection().cursor()
            cursor.row_factory = sqlite3.Row
            return cursor.execute(sql, params).fetchall()

    def _change(self, sql: str, params: Sequence[object], what: str) -> int:
        with self._write_lock, translate(what):
            return self._connection().execute(sql, params).rowcount

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock first, so the transaction never has to upgrade a
        # stale read snapshot (which would fail at once instead of waiting:
        # docs/requirements.md#database-faults).
        with self._write_lock, translate(what):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # An unknown commit outcome is reported as a failure
                # (docs/requirements.md#durable-before-success).
                with suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                raise
