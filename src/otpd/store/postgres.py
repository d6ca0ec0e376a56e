"""The PostgreSQL CredentialStore (issue #11): one database shared by several otpd instances.

It keeps the SQLite store's contract statement for statement: the SQL and the row mapping are
sql_statements.py's and sql_rows.py's (placeholders rewritten), so the two cannot drift apart.
Every method is one autocommit statement or one short transaction on a pooled connection:

- advance() is one conditional UPDATE (step forward and not throttled), so under READ
  COMMITTED two instances racing on one code serialise on the row lock and the second
  re-checks `last_step < new_step` against the first's committed row: one winner.
- record_failure() increments with UPDATE ... RETURNING, which holds the row lock until the
  commit, so parallel failures on several instances count one budget.

The driver is psycopg 3's synchronous API with psycopg_pool: the store interface is
synchronous and the web layer already runs it in a thread pool (docs/scale-out.md).
Errors are mapped to domain errors in `_translate` only; a database that is down or restarting
becomes StoreUnavailable, which every API renders as its own 503, and the pool replaces broken
connections by itself, so service resumes without a restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple
from importlib import resources
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from otpd.core.errors import AlreadyExists, ConfigError, NotFound, StoreUnavailable
from otpd.core.model import ApiClient, CredentialRecord, Tenant, ThrottleState, TokenRecord
from otpd.settings import mask_url
from otpd.store import migrate, pg_bulk, sql_statements
from otpd.store.audit_rows import SqlAuditRows
from otpd.store.client_rows import SqlClientRows, client_from_row
from otpd.store.console_rows import SqlConsoleRows
from otpd.store.key_rows import SqlKeyRows
from otpd.store.radius_rows import SqlRadiusRows
from otpd.store.sql_rows import (
    credential_config,
    credential_from_row,
    tenant_from_row,
    tenant_settings,
)
from otpd.store.ticket_rows import SqlTicketRows

__all__ = ["PostgresStore"]

# Serialises migrations between instances starting at once on one database.
_MIGRATION_LOCK = 0x6F747064  # "otpd"


def _pg(sql: str) -> str:
    """The shared SQL (sql_statements.py) in psycopg's placeholder style. `? IS NULL` needs a
    type in PostgreSQL."""
    return re.sub(r"\?", "%s", sql.replace("? IS NULL", "?::bigint IS NULL"))


_TENANT = _pg(sql_statements._TENANT)
_CLIENT = _pg(sql_statements._CLIENT)
_BY_KEY = _pg(sql_statements._BY_KEY)
_CREDENTIAL = _pg(sql_statements._CREDENTIAL)
# The rescale divides by the new period: typed bigint, so `/` is integer division whatever
# type psycopg would give the parameter (core.policy.rescale_step).
_REPLACE = _pg(sql_statements._REPLACE.replace("/ ?", "/ ?::bigint"))
_REPLACE_AND_RESET = _pg(sql_statements._REPLACE_AND_RESET)
_BEARER = _pg(sql_statements._BEARER)
_REFUSE = _pg(sql_statements._REFUSE)
_NO_THROTTLE_CHECK = 2**63 - 1


class PostgresStore(  # + RADIUS (#15), console (#16), keys, clients (#14), audit (#13)
    SqlRadiusRows, SqlConsoleRows, SqlKeyRows, SqlClientRows, SqlAuditRows, SqlTicketRows
):
    _radius_sql = staticmethod(_pg)  # their statements in psycopg's placeholder style
    _key_sql = staticmethod(_pg)
    _client_sql = staticmethod(_pg)
    _audit_sql = staticmethod(_pg)
    _ticket_sql = staticmethod(_pg)
    _head_lock = " FOR UPDATE"  # appends from every instance queue on the chain head

    def __init__(self, url: str, *, pool_size: int = 10, statement_timeout: int = 5) -> None:
        self._shown = mask_url(url)  # the only form of the URL that may reach a message
        timeout_ms = int(statement_timeout) * 1000
        connect_args: dict[str, Any] = {
            "autocommit": True,
            "connect_timeout": max(2, int(statement_timeout)),
            "options": f"-c statement_timeout={timeout_ms}",
        }
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, int(pool_size)),
            timeout=statement_timeout,  # a request waits this long for a connection, then 503
            # psycopg_pool doubles its retry delay without a cap until this timeout, then
            # gives up and lets the next request start afresh: a short timeout bounds how long
            # service stays down after the database is back (docs/scale-out.md, failover).
            reconnect_timeout=5.0,
            kwargs=connect_args,
            open=False,
            name="otpd",
        )
        # Start-up checks on one direct connection, so a wrong URL or a database that is down
        # is one clear line, not the pool's retries; then the pool opens in the background.
        try:
            conn = psycopg.connect(url, **connect_args)
        except psycopg.Error:
            raise ConfigError(f"cannot connect to PostgreSQL at {self._shown}") from None
        try:
            with conn:
                _prepare(conn)
        except psycopg.Error as exc:
            name = exc.sqlstate or type(exc).__name__
            raise ConfigError(f"cannot use PostgreSQL at {self._shown} ({name})") from None
        self._pool.open(wait=False)

    def __repr__(self) -> str:
        return f"PostgresStore({self._shown!r})"

    # --- tenants and API clients ---------------------------------------------------------
    def create_tenant(self, tenant: Tenant) -> None:
        self._change(
            "INSERT INTO tenant (id, settings, created_at) VALUES (%s, %s, %s)",
            (tenant.id, tenant_settings(tenant), tenant.created_at),
            "tenant",
        )

    def update_tenant(self, tenant: Tenant) -> None:
        changed = self._change(
            "UPDATE tenant SET settings = %s, created_at = %s WHERE id = %s",
            (tenant_settings(tenant), tenant.created_at, tenant.id),
            "tenant",
        )
        if not changed:
            raise NotFound("no such tenant")

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        rows = self._named(_TENANT + "WHERE id = %s", (tenant_id,))
        return tenant_from_row(rows[0]) if rows else None

    def list_tenants(self) -> list[Tenant]:
        return [tenant_from_row(row) for row in self._named(_TENANT + 'ORDER BY id COLLATE "C"')]

    def create_client(self, client: ApiClient) -> None:
        scopes = ",".join(sorted(client.scopes))
        inserted = self._change(
            "INSERT INTO api_client (tenant, name, scopes, key_hash, created_at)"
            " SELECT %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM tenant WHERE id = %s)",
            (client.tenant, client.name, scopes, client.key_hash, client.created_at, client.tenant),
            "client",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def find_client_by_key_hash(self, key_hash: str) -> ApiClient | None:
        rows = self._query(_CLIENT + _BY_KEY, (key_hash, key_hash))
        return client_from_row(rows[0]) if rows else None

    def list_clients(self, tenant_id: str) -> list[ApiClient]:
        rows = self._query(_CLIENT + 'WHERE tenant = %s ORDER BY name COLLATE "C"', (tenant_id,))
        return [client_from_row(row) for row in rows]

    def get_client(self, tenant_id: str, name: str) -> ApiClient | None:
        rows = self._query(_CLIENT + "WHERE tenant = %s AND name = %s", (tenant_id, name))
        return client_from_row(rows[0]) if rows else None

    # --- credentials ---------------------------------------------------------------------
    def allocate_credential_id(self) -> int:
        rows = self._query("UPDATE credential_id_seq SET value = value + 1 RETURNING value")
        return int(rows[0][0])

    def insert_credential(self, record: CredentialRecord) -> None:
        head = (record.id, record.tenant, *credential_config(record), record.created_at_us)
        state = (record.last_step, *astuple(record.throttle), record.refused)
        inserted = self._change(
            "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew,"
            " key_size, issuer, account_name, email, phone, created_at_us, secret, last_step,"
            " failures, not_before, throttled_at, refused) SELECT %s, %s, %s, %s, %s, %s, %s,"
            " %s, %s, %s, %s::text, %s::text, %s, %s, %s, %s, %s, %s, %s"
            " WHERE EXISTS (SELECT 1 FROM tenant WHERE id = %s)",
            (*head, record.sealed_secret, *state, record.tenant),
            "credential",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def replace_credential(
        self, record: CredentialRecord, *, reset_state: bool, expect_version: int | None = None
    ) -> bool:
        # One statement, as in SQLite: without reset_state the failure columns are not
        # written and last_step is only rescaled from its current value, so a concurrent
        # advance() on another instance is never undone.
        row = (record.id, record.tenant, expect_version, expect_version)
        rescale: tuple[int, ...] = ()
        if reset_state:
            sql = _REPLACE_AND_RESET
        else:
            sql, rescale = _REPLACE, (record.params.period,)
        params = (*credential_config(record), record.sealed_secret, *rescale, *row)
        return bool(self._change(sql, params, "credential"))

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None:
        rows = self._named(_CREDENTIAL + "WHERE tenant = %s AND name = %s", (tenant_id, name))
        return credential_from_row(rows[0]) if rows else None

    def get_credential_by_id(self, tenant_id: str, credential_id: int) -> CredentialRecord | None:
        sql = _CREDENTIAL + "WHERE id = %s AND tenant = %s"
        rows = self._named(sql, (credential_id, tenant_id))
        return credential_from_row(rows[0]) if rows else None

    def list_credentials(self, tenant_id: str) -> list[CredentialRecord]:
        sql = _CREDENTIAL + 'WHERE tenant = %s ORDER BY name COLLATE "C"'
        return [credential_from_row(row) for row in self._named(sql, (tenant_id,))]

    def count_credentials(self, tenant_id: str) -> int:
        rows = self._query("SELECT COUNT(*) FROM credential WHERE tenant = %s", (tenant_id,))
        return int(rows[0][0])

    def delete_credential(
        self, tenant_id: str, name: str, *, expect_version: int | None = None
    ) -> bool:
        sql = (
            "DELETE FROM credential WHERE tenant = %s AND name = %s"
            " AND (%s::bigint IS NULL OR version = %s)"
        )
        params = (tenant_id, name, expect_version, expect_version)
        return bool(self._change(sql, params, "credential"))

    # --- verification state: the invariants ----------------------------------------------
    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        # One conditional UPDATE per acceptance: the step only moves forward, and a throttled
        # or locked credential is not consumed (`(not_before <= %s OR throttled_at > %s)` is
        # core.policy.is_throttled negated, as in sqlite.py). Autocommit: committed before
        # True is returned.
        sql = (
            "UPDATE credential SET last_step = %s, failures = 0, not_before = 0, throttled_at = 0"
            " WHERE id = %s"
            " AND last_step < %s AND (not_before <= %s OR throttled_at > %s) RETURNING id"
        )
        limit = now if now is not None else _NO_THROTTLE_CHECK
        with self._cursor("credential") as cur:
            cur.execute(sql, (new_step, credential_id, new_step, limit, limit))
            return cur.fetchone() is not None

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], ThrottleState]
    ) -> ThrottleState | None:
        # The RETURNING row stays locked until COMMIT: a parallel failure on any instance waits,
        # then increments the count this one wrote. A throttled or locked credential counts a
        # refusal only.
        with self._transaction("credential") as cur:
            cur.execute(
                "UPDATE credential SET failures = failures + 1"
                " WHERE id = %s AND (not_before <= %s OR throttled_at > %s) RETURNING failures",
                (credential_id, now, now),
            )
            row = cur.fetchone()
            if row is None:
                cur.execute(_REFUSE, (credential_id,))
                return None
            state = next_state(int(row[0]))
            cur.execute(
                "UPDATE credential SET failures = %s, not_before = %s, throttled_at = %s"
                " WHERE id = %s",
                (state.failures, state.not_before, state.since, credential_id),
            )
            return state

    def record_refusal(self, credential_id: int) -> None:
        # A transaction like record_failure's, so a throttled attempt costs the same write.
        with self._transaction("credential") as cur:
            cur.execute(_REFUSE, (credential_id,))

    def reset_failures(self, tenant_id: str, name: str) -> bool:
        sql = (
            "UPDATE credential SET failures = 0, not_before = 0, throttled_at = 0"
            " WHERE tenant = %s AND name = %s"
        )
        return bool(self._change(sql, (tenant_id, name), "credential"))

    def record_unknown_attempt(self, tenant_id: str) -> None:
        with self._transaction("tenant") as cur:
            cur.execute(
                "UPDATE tenant SET unknown_attempts = unknown_attempts + 1 WHERE id = %s",
                (tenant_id,),
            )

    def unknown_attempts(self, tenant_id: str) -> int:
        rows = self._query("SELECT unknown_attempts FROM tenant WHERE id = %s", (tenant_id,))
        return int(rows[0][0]) if rows else 0

    # --- bearer tokens ------------------------------------------------------------------
    def insert_token(self, token: TokenRecord) -> None:
        sql = (
            "INSERT INTO token (token_hash, accessor, tenant, client, created_at_us,"
            " renewed_at_us, expires_at_us, client_key_hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        )
        self._change(sql, astuple(token), "token")

    def get_token(self, token_hash: str) -> TokenRecord | None:
        rows = self._query(_BEARER + "WHERE token_hash = %s", (token_hash,))
        return TokenRecord(*rows[0]) if rows else None

    def renew_token(self, token_hash: str, renewed_at_us: int, expires_at_us: int) -> bool:
        sql = (
            "UPDATE token SET renewed_at_us = %s, expires_at_us = %s"
            " WHERE token_hash = %s AND expires_at_us > %s"
        )
        params = (renewed_at_us, expires_at_us, token_hash, renewed_at_us)
        return self._change(sql, params, "token") == 1

    def delete_expired_tokens(self, now_us: int) -> int:
        return self._change("DELETE FROM token WHERE expires_at_us <= %s", (now_us,), "token")

    # --- small named values --------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = %s", (key,))
        return str(rows[0][0]) if rows else None

    def put_meta_if_absent(self, key: str, value: str) -> bool:
        sql = "INSERT INTO meta (key, value) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"
        return bool(self._change(sql, (key, value), "meta"))

    # --- bulk import and restore (issue #17, core.ports.BulkCredentialStore) -------------
    def allocate_credential_ids(self, count: int) -> list[int]:
        sql = "UPDATE credential_id_seq SET value = value + %s RETURNING value"
        last = int(self._query(sql, (count,))[0][0])
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

    # --- health and copying --------------------------------------------------------------
    def ping(self) -> None:
        """StoreUnavailable unless the database answers now (/healthz)."""
        self._query("SELECT 1")

    def close(self) -> None:
        self._pool.close()

    # --- plumbing ------------------------------------------------------------------------
    @contextmanager
    def _cursor(self, what: str) -> Iterator[psycopg.Cursor[Any]]:
        if self._pool.closed:
            raise StoreUnavailable("the store is closed")
        with _translate(what), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._cursor("row") as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def _named(self, sql: str, params: Sequence[object] = ()) -> list[dict[str, Any]]:
        """Rows read by column name (sql_rows.py's mapping functions)."""
        if self._pool.closed:
            raise StoreUnavailable("the store is closed")
        with (
            _translate("row"),
            self._pool.connection() as conn,
            conn.cursor(row_factory=dict_row) as cur,
        ):
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


class _Migrator:
    """migrate.apply's Executor on one psycopg connection: BEGIN also takes an advisory lock,
    so instances starting at once on a fresh database apply each migration once."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        cur = self._conn.execute(sql, parameters or None)
        if sql == "BEGIN":
            cur = self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        return cur


def migrations() -> tuple[migrate.Migration, ...]:
    return migrate.load(resources.files("otpd.store") / "migrations" / "postgres")


def _prepare(conn: psycopg.Connection[Any]) -> None:
    found = migrations()
    migrate.check_supported(_schema_version(conn), found)
    migrate.apply(
        _Migrator(conn),
        found,
        split=lambda script: [script],  # psycopg runs a parameterless script whole
        begin="BEGIN",
        record="INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
    )


def _schema_version(conn: psycopg.Connection[Any]) -> int:
    names = {
        row[0]
        for row in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    }
    version = 0
    if "schema_version" in names:
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
    if version == 0 and names - {"schema_version"}:
        raise ConfigError("the PostgreSQL database holds tables otpd did not create")
    return version


@contextmanager
def _translate(what: str) -> Iterator[None]:
    """Map psycopg errors to domain errors, in this one place. Messages name the SQLSTATE class
    only: never a statement's parameters, never the connection URL."""
    try:
        yield
    except pg_errors.UniqueViolation:
        raise AlreadyExists(f"{what} exists") from None
    except pg_errors.ForeignKeyViolation:
        raise NotFound("no such tenant") from None
    except PoolTimeout:
        raise StoreUnavailable("the database could not be reached (pool timeout)") from None
    except psycopg.Error as exc:
        # Down, restarting, failing over, read-only standby, statement timeout: fail closed.
        state = exc.sqlstate or type(exc).__name__
        raise StoreUnavailable(f"the database could not be used ({state})") from None
