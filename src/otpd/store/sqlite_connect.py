"""Opening a SQLite file for the store: connection settings, WAL, the schema check and
migrations, and the one mapping of sqlite3 errors to domain errors."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from otpd.core.errors import AlreadyExists, ConfigError, NotFound, StoreUnavailable
from otpd.store import migrate

__all__ = [
    "MIN_SQLITE",
    "SYNCHRONOUS",
    "Connection",
    "connect",
    "domain_error",
    "split",
    "translate",
]

# PRAGMA synchronous values. FULL makes a commit survive power loss, NORMAL (in WAL mode) only
# a process crash (docs/requirements.md#durable-before-success); the setting is the operator's
# durability claim.
SYNCHRONOUS = {"FULL": 2, "NORMAL": 1}
MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING
_UNIQUE = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}


class Connection(sqlite3.Connection):
    """Only so the store can hold weak references to its connections (for close())."""


def connect(path: Path, synchronous: str, busy_timeout_ms: int) -> Connection:
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,  # autocommit: each lone statement is its own transaction
        check_same_thread=True,
        factory=Connection,
    )
    try:
        # Per connection, not per file: a lock wait is bounded
        # (docs/requirements.md#database-faults), commits are as
        # durable as configured (docs/requirements.md#durable-before-success), and foreign keys are
        # off unless asked for. PRAGMA
        # takes no parameters; both values are validated integers, never input
        # (docs/requirements.md#parameterised-sql).
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS[synchronous]}")
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA foreign_keys").fetchall() != [(1,)]:
            raise ConfigError("this SQLite library does not enforce foreign keys")
    except BaseException:
        conn.close()
        raise
    return conn


def prepare(conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
    """Check the file, switch it to WAL and bring its schema up to date."""
    migrations = migrate.load()
    # Refuse before writing anything: a newer or foreign database is left untouched.
    migrate.check_supported(_schema_version(conn, path), migrations)
    _enable_wal(conn, path, busy_timeout_ms)
    migrate.apply(conn, migrations, split=split)


def split(script: str) -> list[str]:
    return migrate.split_statements(script, sqlite3.complete_statement)


def _enable_wal(conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
    """WAL lets readers run beside the one writer; the mode is stored in the file. Switching
    needs an exclusive lock that SQLite does not wait for (a second process opening a fresh
    file at the same moment gets SQLITE_BUSY at once), so retry up to the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchall()[0][0]
            break
        except sqlite3.OperationalError as exc:
            if not exc.sqlite_errorname.startswith("SQLITE_BUSY") or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    if str(mode).lower() != "wal":
        raise ConfigError(f"cannot switch the SQLite database {path} to WAL mode")


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    conn.execute("BEGIN")  # one read snapshot for both questions
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        version = 0
        if "schema_version" in names:
            sql = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            version = int(conn.execute(sql).fetchall()[0][0])
    finally:
        conn.execute("ROLLBACK")
    if version == 0 and names - {"schema_version"}:
        raise ConfigError(f"the SQLite database {path} holds tables otpd did not create")
    return version


@contextmanager
def translate(what: str) -> Iterator[None]:
    """Map sqlite3 errors to domain errors. Messages name the SQLite error code only, never
    a statement's parameters, which may hold sealed secrets or key hashes."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
            raise NotFound("no such tenant") from None
        if exc.sqlite_errorname in _UNIQUE:
            raise AlreadyExists(f"{what} exists") from None
        raise StoreUnavailable(f"the database refused the write ({exc.sqlite_errorname})") from exc
    except sqlite3.DatabaseError as exc:
        # Disk full, I/O error, locked past busy_timeout: fail closed
        # (docs/requirements.md#database-faults).
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        raise StoreUnavailable(f"the database could not be used ({name})") from exc


def domain_error(exc: BaseException, what: str) -> BaseException:
    """translate's mapping as a value, for store.group_commit; other errors pass as they are."""
    try:
        with translate(what):
            raise exc
    except BaseException as mapped:
        return mapped
