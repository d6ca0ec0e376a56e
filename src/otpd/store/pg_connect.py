"""Opening a PostgreSQL database for the store (issue #11): the connection pool, the start-up
checks and migrations, the SQL spelling, and the one mapping of psycopg errors to domain errors.
The twin of sqlite_connect.py."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from otpd.core.errors import AlreadyExists, ConfigError, NotFound, StoreUnavailable
from otpd.store import migrate

__all__ = ["migrations", "open_pool", "pg_sql", "translate"]

# Serialises migrations between instances starting at once on one database.
_MIGRATION_LOCK = 0x6F747064  # "otpd"


@functools.cache  # a few dozen distinct statements: rewritten once each, not per call
def pg_sql(sql: str) -> str:
    """A statement in SQLite's `?` style (sql_statements.py, the *_rows.py mixins) in psycopg's
    `%s` style. PostgreSQL needs a type where SQLite infers none: `? IS NULL` (a nullable
    parameter) and `/ ?`, typed bigint so `/` is integer division whatever type psycopg gives
    the parameter (core.policy.rescale_step)."""
    typed = sql.replace("? IS NULL", "?::bigint IS NULL").replace("/ ?", "/ ?::bigint")
    return re.sub(r"\?", "%s", typed)


def open_pool(url: str, shown: str, pool_size: int, statement_timeout: int) -> ConnectionPool:
    """The pool, opening in the background after start-up checks on one direct connection (so
    a wrong URL or a database that is down is one clear line, not the pool's retries)."""
    timeout_ms = int(statement_timeout) * 1000
    connect_args: dict[str, Any] = {
        "autocommit": True,
        "connect_timeout": max(2, int(statement_timeout)),
        "options": f"-c statement_timeout={timeout_ms}",
    }
    pool = ConnectionPool(
        url,
        min_size=1,
        max_size=max(1, int(pool_size)),
        timeout=statement_timeout,  # a request waits this long for a connection, then 503
        # psycopg_pool doubles its retry delay without a cap until this timeout, then gives up
        # and lets the next request start afresh: a short timeout bounds how long service stays
        # down after the database is back (docs/scale-out.md, failover).
        reconnect_timeout=5.0,
        kwargs=connect_args,
        open=False,
        name="otpd",
    )
    try:
        conn = psycopg.connect(url, **connect_args)
    except psycopg.Error:
        raise ConfigError(f"cannot connect to PostgreSQL at {shown}") from None
    try:
        with conn:
            _prepare(conn)
    except psycopg.Error as exc:
        name = exc.sqlstate or type(exc).__name__
        raise ConfigError(f"cannot use PostgreSQL at {shown} ({name})") from None
    pool.open(wait=False)
    return pool


class Migrator:
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
        Migrator(conn),
        found,
        split=lambda script: [script],  # psycopg runs a parameterless script whole
        begin="BEGIN",
        record="INSERT INTO schema_version (version, applied_at) VALUES (%s, %s)",
    )


def _schema_version(conn: psycopg.Connection[Any]) -> int:
    sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    names = {str(row[0]) for row in conn.execute(sql)}
    version = 0
    if "schema_version" in names:
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()
        version = int(row[0]) if row else 0
    if version == 0 and names - {"schema_version"}:
        raise ConfigError("the PostgreSQL database holds tables otpd did not create")
    return version


@contextmanager
def translate(what: str) -> Iterator[None]:
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
