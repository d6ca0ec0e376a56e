"""The PostgreSQL CredentialStore (issue #11): one database shared by several otpd instances.

It keeps the SQLite store's contract statement for statement: most methods are the mixins both
stores share (record_rows.py, client_rows.py and the other *_rows.py), their `?` statements
rewritten by pg_connect.pg_sql, and rows mapped by name (sql_rows.py), so the two cannot drift
apart. What is PostgreSQL's own is here: the verification writes, bulk import and the plumbing.
Every method is one autocommit statement or one short transaction on a pooled connection.

The driver is psycopg 3's synchronous API with psycopg_pool: the store interface is
synchronous and the web layer already runs it in a thread pool (docs/scale-out.md).
Errors are mapped to domain errors in pg_connect.translate only; a database that is down or
restarting becomes StoreUnavailable, which every API renders as its own 503, and the pool
replaces broken connections by itself, so service resumes without a restart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from otpd.core.errors import StoreUnavailable
from otpd.core.model import CredentialRecord, ThrottleState
from otpd.settings import mask_url
from otpd.store import pg_bulk, sql_statements
from otpd.store.audit_rows import SqlAuditRows
from otpd.store.client_rows import SqlClientRows
from otpd.store.console_rows import SqlConsoleRows
from otpd.store.key_rows import SqlKeyRows
from otpd.store.pg_connect import open_pool, pg_sql, translate
from otpd.store.radius_rows import SqlRadiusRows
from otpd.store.record_rows import SqlRecordRows
from otpd.store.ticket_rows import SqlTicketRows

__all__ = ["PostgresStore"]

# The verification writes, sql_statements' text in psycopg's placeholder style.
_REFUSE = pg_sql(sql_statements.REFUSE)
_ADVANCE = pg_sql(sql_statements.ADVANCE + " RETURNING id")
_COUNT_FAILURE = pg_sql(sql_statements.COUNT_FAILURE)
_SET_THROTTLE = pg_sql(sql_statements.SET_THROTTLE)
_UNKNOWN_ATTEMPT = pg_sql(sql_statements.UNKNOWN_ATTEMPT)


class PostgresStore(  # + RADIUS (#15), console (#16), keys, clients (#14), audit (#13)
    SqlRecordRows,
    SqlRadiusRows,
    SqlConsoleRows,
    SqlKeyRows,
    SqlClientRows,
    SqlAuditRows,
    SqlTicketRows,
):
    _sql = staticmethod(pg_sql)  # the shared statements in psycopg's placeholder style
    _byte_order = ' COLLATE "C"'  # names sort by their bytes, as in SQLite
    _head_lock = " FOR UPDATE"  # appends from every instance queue on the chain head

    def __init__(self, url: str, *, pool_size: int = 10, statement_timeout: int = 5) -> None:
        self._shown = mask_url(url)  # the only form of the URL that may reach a message
        self._pool = open_pool(url, self._shown, pool_size, statement_timeout)

    def __repr__(self) -> str:
        return f"PostgresStore({self._shown!r})"

    def allocate_credential_id(self) -> int:
        return self.allocate_credential_ids(1)[0]

    # --- verification state: the invariants ----------------------------------------------
    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        # One conditional UPDATE per acceptance: the step only moves forward, and a throttled
        # or locked credential is not consumed (`(not_before <= %s OR throttled_at > %s)` is
        # core.policy.is_throttled negated). Under READ COMMITTED two instances racing on one
        # code serialise on the row lock, and the second re-checks `last_step < new_step`
        # against the first's committed row: one winner. Autocommit: committed before True is
        # returned (docs/requirements.md#durable-before-success).
        limit = now if now is not None else sql_statements.NO_THROTTLE_CHECK
        with self._cursor("credential") as cur:
            cur.execute(_ADVANCE, (new_step, credential_id, new_step, limit, limit))
            return cur.fetchone() is not None

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], ThrottleState]
    ) -> ThrottleState | None:
        # The RETURNING row stays locked until COMMIT: a parallel failure on any instance waits,
        # then increments the count this one wrote, so they count one budget. A throttled or
        # locked credential counts a refusal only.
        with self._transaction("credential") as cur:
            cur.execute(_COUNT_FAILURE, (credential_id, now, now))
            row = cur.fetchone()
            if row is None:
                cur.execute(_REFUSE, (credential_id,))
                return None
            state = next_state(int(row[0]))
            cur.execute(
                _SET_THROTTLE, (state.failures, state.not_before, state.since, credential_id)
            )
            return state

    def record_refusal(self, credential_id: int) -> None:
        # A transaction like record_failure's, so a throttled attempt costs the same write.
        with self._transaction("credential") as cur:
            cur.execute(_REFUSE, (credential_id,))

    def record_unknown_attempt(self, tenant_id: str) -> None:
        with self._transaction("tenant") as cur:
            cur.execute(_UNKNOWN_ATTEMPT, (tenant_id,))

    # --- bulk import and restore (issue #17, core.ports.BulkCredentialStore) -------------
    def allocate_credential_ids(self, count: int) -> list[int]:
        last = int(self._query(pg_sql(sql_statements.ALLOCATE_IDS), (count,))[0][0])
        return list(range(last - count + 1, last + 1))

    def get_credentials_by_name(
        self, tenant_id: str, names: Sequence[str]
    ) -> dict[str, CredentialRecord]:
        return pg_bulk.by_names(self._named(pg_bulk.BY_NAMES, (tenant_id, list(names))))

    def write_credentials(
        self, inserts: Sequence[CredentialRecord], replaces: Sequence[CredentialRecord]
    ) -> None:
        with self._transaction("credential") as cur:  # the whole batch or none of it
            pg_bulk.write_batch(cur, inserts, replaces)

    def raise_replay_floor(self, now: int) -> int:
        return self._change(pg_bulk.RAISE_FLOOR, (now,), "credential")

    def close(self) -> None:
        self._pool.close()

    # --- plumbing (sql_rows.SqlHost) -----------------------------------------------------
    @contextmanager
    def _cursor(self, what: str, **kwargs: Any) -> Iterator[psycopg.Cursor[Any]]:
        if self._pool.closed:
            raise StoreUnavailable("the store is closed")
        with translate(what), self._pool.connection() as conn, conn.cursor(**kwargs) as cur:
            yield cur

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._cursor("row") as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _named(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        """Rows read by column name (sql_rows.py's mapping functions)."""
        with self._cursor("row", row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _change(self, sql: str, params: Sequence[object], what: str) -> int:
        with self._cursor(what) as cur:
            cur.execute(sql, params)
            return cur.rowcount

    @contextmanager
    def _transaction(self, what: str) -> Iterator[psycopg.Cursor[Any]]:
        # conn.transaction() commits on success and rolls back on any error; a commit whose
        # outcome is unknown (connection lost) raises, and is reported as a failure.
        with self._cursor(what) as cur, cur.connection.transaction():
            yield cur
