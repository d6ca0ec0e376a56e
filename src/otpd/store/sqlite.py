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
from pathlib import Path
from typing import Any

from otpd.core.errors import ConfigError, StoreUnavailable
from otpd.core.model import ThrottleState
from otpd.store.audit_rows import SqlAuditRows
from otpd.store.client_rows import SqlClientRows
from otpd.store.console_rows import SqlConsoleRows
from otpd.store.group_commit import GroupCommit
from otpd.store.key_rows import SqlKeyRows
from otpd.store.radius_rows import SqlRadiusRows
from otpd.store.record_rows import SqlRecordRows
from otpd.store.sql_statements import (
    ADVANCE,
    COUNT_FAILURE,
    NO_THROTTLE_CHECK,
    REFUSE,
    SET_THROTTLE,
    UNKNOWN_ATTEMPT,
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


class SqliteStore(  # + RADIUS (#15), console (#16), keys, clients (#14), audit (#13)
    SqlRecordRows,
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

    def allocate_credential_id(self) -> int:
        return self.allocate_credential_ids(1)[0]

    # --- verification state: the invariants ----------------------------------------------
    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        # The compare-and-set is one statement under SQLite's write lock, and its
        # `last_step < ?` guard means the stored step never moves back
        # (docs/requirements.md#single-use). True only after the group commit holding the write
        # returned (store.group_commit), so the step is on disk with the configured synchronous
        # (docs/requirements.md#durable-before-success). With `now`, a credential throttled at
        # `now` is not consumed either: the throttle test and the consumption are one atomic
        # step (docs/requirements.md#throttling).
        limit = now if now is not None else NO_THROTTLE_CHECK
        params = (new_step, credential_id, new_step, limit, limit)
        return self._group.run(
            lambda conn: conn.execute(ADVANCE, params).rowcount == 1, "credential", statement=True
        )

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], ThrottleState]
    ) -> ThrottleState | None:
        # The increment and the policy's verdict happen in one savepoint of a group commit,
        # under the write lock, so parallel guesses cannot both read the same count. A
        # throttled credential counts a refusal only (docs/requirements.md#throttling).
        def write(conn: sqlite3.Connection) -> ThrottleState | None:
            rows = conn.execute(COUNT_FAILURE, (credential_id, now, now)).fetchall()
            if not rows:
                conn.execute(REFUSE, (credential_id,))
                return None
            state = next_state(int(rows[0][0]))
            conn.execute(
                SET_THROTTLE, (state.failures, state.not_before, state.since, credential_id)
            )
            return state

        return self._group.run(write, "credential")

    def record_refusal(self, credential_id: int) -> None:
        # Group-committed like record_failure, so a throttled attempt costs the same write.
        self._group.run(
            lambda conn: conn.execute(REFUSE, (credential_id,)), "credential", statement=True
        )

    def record_unknown_attempt(self, tenant_id: str) -> None:
        # Group-committed like record_failure, so the two cost the same write
        # (docs/requirements.md#equal-work).
        self._group.run(
            lambda conn: conn.execute(UNKNOWN_ATTEMPT, (tenant_id,)), "tenant", statement=True
        )

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
