"""`otpd copy --from URL --to URL`: move a deployment between SQLite and PostgreSQL (issue #11).

Rows are copied as stored: sealed secrets stay ciphertext under the same data key (the keyring
is in `meta`), and the replay step, failure count and throttle of every credential come along,
so no code used before the copy becomes valid again. The target must be empty; both databases
are brought to the same schema version first by opening them as stores; the row counts of every
table are compared at the end. Docs: docs/scale-out.md, "Moving between SQLite and PostgreSQL".
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TextIO

from otpd.core.errors import ConfigError
from otpd.settings import mask_url

__all__ = ["TABLES", "copy_database"]

# Parents before children (foreign keys); a table a later migration adds is copied after these.
# credential_id_seq is the one row every fresh schema already holds: it is updated, not inserted.
_AUDIT_HEAD = "audit_head"
TABLES = ("tenant", "api_client", "credential", "enrolment_ticket", "meta", "token")
_SEQUENCE = "credential_id_seq"
_NOT_COPIED = {_SEQUENCE, "schema_version"}
_BATCH = 500


class _Sqlite:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.mark = "?"

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.conn.execute(sql, params).fetchall()

    def columns(self, table: str) -> list[str]:
        sql = "SELECT name FROM pragma_table_info(?) ORDER BY cid"
        return [str(row[0]) for row in self._all(sql, (table,))]

    def count(self, table: str) -> int:
        return int(self._all(f"SELECT COUNT(*) FROM {table}")[0][0])  # noqa: S608 (our names)

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[Any]]:
        cur = self.conn.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
        while batch := cur.fetchmany(_BATCH):
            yield batch

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        marks = ", ".join([self.mark] * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        self.conn.executemany(sql, rows)

    def sequence(self) -> int:
        return int(self._all(f"SELECT value FROM {_SEQUENCE}")[0][0])  # noqa: S608

    def set_sequence(self, value: int) -> None:
        self.conn.execute(f"UPDATE {_SEQUENCE} SET value = {self.mark}", (value,))  # noqa: S608

    def schema_version(self) -> int:
        return int(self._all("SELECT MAX(version) FROM schema_version")[0][0])

    def tables(self) -> list[str]:
        names = {
            str(r[0]) for r in self._all("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        return _ordered(names)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def clear(self, table: str) -> None:
        self.conn.execute(f"DELETE FROM {table}")  # noqa: S608 (our names)

    def close(self) -> None:
        self.conn.close()


class _Postgres(_Sqlite):
    def __init__(self, url: str) -> None:  # same interface over psycopg
        import psycopg  # the optional extra, only when a URL asks for PostgreSQL

        self.pg = psycopg.connect(url, autocommit=True)
        self.mark = "%s"

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.pg.execute(sql, params or None).fetchall()

    def columns(self, table: str) -> list[str]:
        sql = (
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position"
        )
        return [str(row[0]) for row in self._all(sql, (table,))]

    def tables(self) -> list[str]:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        return _ordered({str(r[0]) for r in self._all(sql)})

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[Any]]:
        with self.pg.transaction(), self.pg.cursor(name=f"copy_{table}") as cur:
            cur.execute(f"SELECT {', '.join(columns)} FROM {table}")  # noqa: S608
            while batch := cur.fetchmany(_BATCH):
                yield batch

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
        marks = ", ".join([self.mark] * len(columns))
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        with self.pg.cursor() as cur:
            cur.executemany(sql, rows)

    def set_sequence(self, value: int) -> None:
        self.pg.execute(f"UPDATE {_SEQUENCE} SET value = %s", (value,))  # noqa: S608

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.pg.transaction():
            yield

    def clear(self, table: str) -> None:
        self.pg.execute(f"DELETE FROM {table}")  # noqa: S608 (our names)

    def close(self) -> None:
        self.pg.close()


def _ordered(names: set[str]) -> list[str]:
    names = names - _NOT_COPIED
    return [t for t in TABLES if t in names] + sorted(names - set(TABLES))


def _open(url: str, prepare: Callable[[str], None]) -> _Sqlite:
    prepare(url)  # opening it as a store checks or applies the schema migrations
    if url.startswith("sqlite:///"):
        return _Sqlite(Path(url.removeprefix("sqlite:///")))
    if url.startswith(("postgresql://", "postgres://")):
        return _Postgres(url)
    raise ConfigError("copy needs sqlite:///PATH or postgresql://... URLs")


def copy_database(
    source_url: str, target_url: str, prepare: Callable[[str], None], out: TextIO = sys.stderr
) -> dict[str, int]:
    """Copy every row; the number of rows per table. ConfigError if the target is not empty,
    the schema versions differ, or a count does not match afterwards."""
    if source_url == target_url:
        raise ConfigError("copy needs two different databases")
    with closing(_open(source_url, prepare)) as src, closing(_open(target_url, prepare)) as dst:
        if src.schema_version() != dst.schema_version():
            raise ConfigError("the two databases are at different schema versions")
        tables = src.tables()
        if tables != dst.tables():
            raise ConfigError("the two databases do not have the same tables")
        # audit_head is one row from the start (the chain's genesis, migration 008): with no
        # audit rows it holds nothing, and the source's head replaces it.
        if any(dst.count(t) for t in tables if t != _AUDIT_HEAD) or dst.sequence() != 0:
            raise ConfigError(f"the target {mask_url(target_url)} is not empty; copy refuses it")
        counts = {t: src.count(t) for t in tables}
        with dst.transaction():  # all or nothing: an interrupted copy leaves the target empty
            if _AUDIT_HEAD in tables:
                dst.clear(_AUDIT_HEAD)
            for table in tables:
                _copy_table(src, dst, table, counts[table], out)
            dst.set_sequence(src.sequence())
        copied = {t: dst.count(t) for t in tables}
        if copied != counts or dst.sequence() != src.sequence():
            raise ConfigError(f"row counts differ after the copy: {counts} -> {copied}")
    return counts


def _copy_table(src: _Sqlite, dst: _Sqlite, table: str, total: int, out: TextIO) -> None:
    columns = src.columns(table)
    missing = set(columns) - set(dst.columns(table))
    if missing:
        raise ConfigError(f"the target's {table} table lacks {sorted(missing)}")
    done = 0
    _progress(out, table, done, total)
    for batch in src.rows(table, columns):
        dst.insert(table, columns, batch)
        done += len(batch)
        _progress(out, table, done, total)
    out.write("\n")


def _progress(out: TextIO, table: str, done: int, total: int) -> None:
    width = 30
    filled = width if total == 0 else width * done // total
    bar = "#" * filled + "." * (width - filled)
    out.write(f"\r{table:<17} [{bar}] {done}/{total}")
    out.flush()
