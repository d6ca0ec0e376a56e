"""A small schema-migration runner shared by the SQL stores.

Migrations are the files `NNN_description.sql` in `otpd/store/migrations/`, numbered from 001
without gaps. Each is applied in its own transaction together with its `schema_version` row,
so a crash leaves the database at one version or the next, never between
(docs/requirements.md#durable-before-success). The version is re-read inside the transaction, so two
processes opening a fresh database at once agree: one applies, the other finds it applied.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from typing import Any, Protocol

from otpd.core.errors import ConfigError

__all__ = [
    "CREATE_SCHEMA_VERSION",
    "Migration",
    "apply",
    "check_supported",
    "load",
    "split_statements",
]

_FILE_NAME = re.compile(r"(\d{3})_([a-z0-9_]+)\.sql")

CREATE_SCHEMA_VERSION = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL)"
)
_CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


class Cursor(Protocol):
    def fetchall(self) -> list[Any]: ...


class Executor(Protocol):
    """The part of a DB-API connection the runner needs (sqlite3 and psycopg both fit)."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...


def load(directory: Traversable | None = None) -> tuple[Migration, ...]:
    """The packaged migrations in version order. Raises ConfigError on a broken install."""
    root = directory or resources.files("otpd.store") / "migrations"
    found = []
    for entry in root.iterdir():
        match = _FILE_NAME.fullmatch(entry.name)
        if match:
            sql = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match[1]), match[2], sql))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise ConfigError("otpd's schema migrations are not numbered 001, 002, ... without gaps")
    return tuple(found)


def check_supported(db_version: int, migrations: Sequence[Migration]) -> None:
    """Refuse a database written by a newer otpd: its meaning of the rows is unknown here."""
    known = migrations[-1].version if migrations else 0
    if db_version > known:
        raise ConfigError(
            f"database schema version {db_version} is newer than this otpd supports "
            f"({known}); upgrade otpd"
        )


def split_statements(script: str, is_complete: Callable[[str], bool]) -> list[str]:
    """Cut a script into single statements (sqlite3's execute runs one at a time), using the
    dialect's own test for a complete statement so semicolons in strings, comments and
    trigger bodies do not cut. Ends a line at a time: one statement per group of lines."""
    statements, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if is_complete(pending):
            statements.append(pending.strip())
            pending = ""
    if any(ln.strip() and not ln.lstrip().startswith("--") for ln in pending.splitlines()):
        raise ConfigError("a schema migration ends inside a statement")
    return statements


def apply(
    db: Executor,
    migrations: Sequence[Migration],
    *,
    split: Callable[[str], Iterable[str]],
    begin: str = "BEGIN IMMEDIATE",
    record: str = "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
) -> list[int]:
    """Apply the pending migrations, one transaction each; return the versions applied here.

    `begin` must take the write lock up front (SQLite: BEGIN IMMEDIATE), so the version read
    inside the transaction cannot go stale. `split` turns a script into single statements;
    `record` is the dialect's parameterised insert into schema_version
    (docs/requirements.md#parameterised-sql).
    """
    applied = []
    for migration in migrations:
        db.execute(begin)
        try:
            db.execute(CREATE_SCHEMA_VERSION)
            current = int(db.execute(_CURRENT_VERSION).fetchall()[0][0])
            check_supported(current, migrations)
            if current == migration.version - 1:
                for statement in split(migration.sql):
                    db.execute(statement)
                db.execute(record, (migration.version, int(time.time())))
                applied.append(migration.version)
            db.execute("COMMIT")
        except BaseException:
            with suppress(Exception):  # the original error matters more than a failed rollback
                db.execute("ROLLBACK")
            raise
    return applied
