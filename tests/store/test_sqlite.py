"""SQLite-specific behaviour: pragmas, migrations, refusing foreign files, and the races
across threads and processes that the compare-and-set must win (docs/requirements.md#single-use,
docs/requirements.md#throttling)."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from otpd.core.errors import ConfigError, StoreUnavailable
from otpd.core.model import ThrottleState
from otpd.store import migrate
from otpd.store.sqlite import SqliteStore
from otpd.store.sqlite_connect import split as _split
from tests.support.stores import add_credential, make_record, make_tenant, never_throttle

SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter, as a second otpd would be
STEPS = 1000


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "otpd.db"


@pytest.fixture
def sqlite_store(db_path: Path) -> Iterator[SqliteStore]:
    store = SqliteStore(db_path)
    yield store
    store.close()


def pragma(store: SqliteStore, name: str) -> Any:
    return store._connection().execute(f"PRAGMA {name}").fetchall()[0][0]


def raw_query(path: Path, sql: str) -> list[Any]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql).fetchall()


# --- opening -----------------------------------------------------------------------------


def test_wal_mode_is_persistent(sqlite_store: SqliteStore, db_path: Path) -> None:
    assert pragma(sqlite_store, "journal_mode") == "wal"
    assert raw_query(db_path, "PRAGMA journal_mode") == [("wal",)]


@pytest.mark.parametrize(("setting", "expected"), [("FULL", 2), ("NORMAL", 1), ("normal", 1)])
def test_synchronous_is_applied_on_every_connection(
    db_path: Path, setting: str, expected: int
) -> None:
    store = SqliteStore(db_path, synchronous=setting, busy_timeout_ms=1234)

    def settings() -> tuple[Any, ...]:
        return tuple(pragma(store, p) for p in ("synchronous", "foreign_keys", "busy_timeout"))

    try:
        assert settings() == (expected, 1, 1234)
        with ThreadPoolExecutor(2) as pool:  # another thread gets its own, equally set up
            assert pool.submit(settings).result() == (expected, 1, 1234)
    finally:
        store.close()


@pytest.mark.parametrize("setting", ["OFF", "EXTRA", "", "full; DROP TABLE x"])
def test_bad_synchronous_is_a_config_error(db_path: Path, setting: str) -> None:
    with pytest.raises(ConfigError, match="FULL or NORMAL"):
        SqliteStore(db_path, synchronous=setting)
    assert not db_path.exists()


def test_bad_busy_timeout_is_a_config_error(db_path: Path) -> None:
    with pytest.raises(ConfigError, match="busy timeout"):
        SqliteStore(db_path, busy_timeout_ms=-1)


def test_reopen_keeps_data(db_path: Path) -> None:
    store = SqliteStore(db_path)
    record = add_credential(store, "acme", "alice")
    assert store.advance(record.id, 42)
    store.put_meta_if_absent("k", "v")
    store.close()
    again = SqliteStore(db_path)
    try:
        current = again.get_credential("acme", "alice")
        assert current is not None
        assert current.last_step == 42
        assert again.get_meta("k") == "v"
        assert again.allocate_credential_id() > record.id  # the sequence survives too
    finally:
        again.close()


def test_schema_version_is_recorded(sqlite_store: SqliteStore, db_path: Path) -> None:
    rows = raw_query(db_path, "SELECT version, applied_at FROM schema_version")
    assert [version for version, _ in rows] == [m.version for m in migrate.load()]
    assert rows[0][1] > 1_600_000_000


def test_newer_schema_is_refused_and_left_untouched(db_path: Path) -> None:
    SqliteStore(db_path).close()
    known = len(migrate.load())
    newer = known + 1  # one past the last migration this otpd ships
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (newer,))
        conn.commit()
    before = db_path.read_bytes()
    message = (
        rf"database schema version {newer} is newer than this otpd supports \({known}\); upgrade"
    )
    with pytest.raises(ConfigError, match=message):
        SqliteStore(db_path)
    assert db_path.read_bytes() == before
    assert raw_query(db_path, "SELECT COUNT(*) FROM schema_version") == [(known + 1,)]


def test_garbage_file_is_refused_and_left_untouched(db_path: Path) -> None:
    garbage = b"this is not an SQLite database\n" * 200
    db_path.write_bytes(garbage)
    with pytest.raises(ConfigError, match="not a database"):
        SqliteStore(db_path)
    assert db_path.read_bytes() == garbage


def test_foreign_database_is_refused_and_left_untouched(db_path: Path) -> None:
    with closing(sqlite3.connect(db_path)) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
        conn.commit()
    before = db_path.read_bytes()
    with pytest.raises(ConfigError, match="did not create"):
        SqliteStore(db_path)
    assert db_path.read_bytes() == before


def test_unopenable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open"):
        SqliteStore(tmp_path / "missing-dir" / "otpd.db")


# --- migrations --------------------------------------------------------------------------


def test_packaged_migrations_are_numbered() -> None:
    migrations = migrate.load()
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert migrations[0].name == "initial"


def test_gap_in_migrations_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "001_a.sql").write_text("CREATE TABLE a (x);")
    (tmp_path / "003_c.sql").write_text("CREATE TABLE c (x);")
    (tmp_path / "README.txt").write_text("ignored")
    with pytest.raises(ConfigError, match="without gaps"):
        migrate.load(tmp_path)


def test_statements_split_on_complete_statements() -> None:
    script = (
        "-- c\nCREATE TABLE a (\n  x TEXT -- ; not the end\n);\nINSERT INTO a VALUES ('a;b');\n"
    )
    assert _split(script) == [
        "-- c\nCREATE TABLE a (\n  x TEXT -- ; not the end\n);",
        "INSERT INTO a VALUES ('a;b');",
    ]
    with pytest.raises(ConfigError):
        _split("CREATE TABLE a (x")


def test_failed_migration_rolls_back(db_path: Path, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "001_ok.sql").write_text("CREATE TABLE a (x);\nCREATE TABLE a (y);\n")
    with closing(sqlite3.connect(db_path, isolation_level=None)) as conn:
        with pytest.raises(sqlite3.OperationalError):
            migrate.apply(conn, migrate.load(tmp_path / "m"), split=_split)
        tables = conn.execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == []


# --- errors ------------------------------------------------------------------------------


def test_lock_held_past_busy_timeout_is_store_unavailable(db_path: Path) -> None:
    store = SqliteStore(db_path, busy_timeout_ms=100)
    record = add_credential(store)
    with closing(sqlite3.connect(db_path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreUnavailable, match="SQLITE_BUSY") as caught:
            store.advance(record.id, 987654321)
        assert "987654321" not in str(caught.value)
        with pytest.raises(StoreUnavailable):
            store.record_failure(record.id, 0, never_throttle)
        assert store.get_credential_by_id("acme", record.id) == record  # reads keep working
        other.execute("ROLLBACK")
    assert store.advance(record.id, 1)  # and writes recover
    store.close()


def test_constraint_error_does_not_echo_values(sqlite_store: SqliteStore) -> None:
    sqlite_store.create_tenant(make_tenant("acme"))
    secret = b"sealed-secret-that-must-not-leak"
    bad = make_record(sqlite_store.allocate_credential_id(), key_size=5, sealed_secret=secret)
    with pytest.raises(StoreUnavailable) as caught:
        sqlite_store.insert_credential(bad)
    assert "must-not-leak" not in str(caught.value)
    assert "SQLITE_CONSTRAINT_CHECK" in str(caught.value)


def test_closed_store_is_unavailable(db_path: Path) -> None:
    store = SqliteStore(db_path)
    store.close()
    with pytest.raises(StoreUnavailable, match="closed"):
        store.get_tenant("acme")
    store.close()  # twice is harmless


# --- races across threads and processes -------------------------------------------------


def _open_worker(paths: list[str], barrier: Any) -> None:
    for path in paths:
        barrier.wait(timeout=30)
        SqliteStore(Path(path)).close()


def _advance_worker(path: str, credential_id: int, barrier: Any, results: Any) -> None:
    store = SqliteStore(Path(path))
    won = []
    for step in range(1, STEPS + 1):
        barrier.wait(timeout=60)  # lockstep, so both really ask for the same step at once
        if store.advance(credential_id, step):
            won.append(step)
    store.close()
    results.put(won)


def _failure_worker(path: str, credential_id: int, calls: int, barrier: Any, results: Any) -> None:
    store = SqliteStore(Path(path))
    counts = []
    for i in range(calls):
        if i % 5 == 0:
            barrier.wait(timeout=60)
        state = store.record_failure(credential_id, 0, never_throttle)
        assert state is not None
        counts.append(state.failures)
    store.close()
    results.put(counts)


def _run(target: Any, *args: Any, processes: int = 2) -> list[Any]:
    """Run `target(*args, barrier, results)` in spawned processes; return what each put."""
    barrier = SPAWN.Barrier(processes)
    results = SPAWN.Queue()
    workers = [
        SPAWN.Process(target=target, args=(*args, barrier, results)) for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    collected = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    return collected


def test_two_processes_open_a_fresh_file_at_once(tmp_path: Path) -> None:
    paths = [str(tmp_path / f"fresh-{i}.db") for i in range(20)]
    barrier = SPAWN.Barrier(2)
    workers = [SPAWN.Process(target=_open_worker, args=(paths, barrier)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    for path in paths:
        versions = raw_query(Path(path), "SELECT version FROM schema_version ORDER BY version")
        assert versions == [(m.version,) for m in migrate.load()]
        assert raw_query(Path(path), "SELECT value FROM credential_id_seq") == [(0,)]


def test_advance_race_across_processes_has_one_winner_per_step(sqlite_store: SqliteStore) -> None:
    record = add_credential(sqlite_store)
    won_lists = _run(_advance_worker, str(sqlite_store._path), record.id)
    winners = Counter(step for won in won_lists for step in won)
    assert sum(winners.values()) == STEPS
    assert winners == Counter(range(1, STEPS + 1))
    current = sqlite_store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.last_step == STEPS


def test_record_failure_across_processes_loses_no_increment(sqlite_store: SqliteStore) -> None:
    record = add_credential(sqlite_store)
    counts = _run(_failure_worker, str(sqlite_store._path), record.id, 200)
    # Every call saw a distinct count: no two read the same value (docs/requirements.md#throttling).
    assert sorted(c for part in counts for c in part) == list(range(1, 401))
    current = sqlite_store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.throttle == ThrottleState(failures=400, not_before=0)


def test_advance_race_across_threads_has_one_winner_per_step(sqlite_store: SqliteStore) -> None:
    record = add_credential(sqlite_store)
    threads, steps = 8, 300
    barrier = threading.Barrier(threads)

    def hammer() -> list[int]:
        won = []
        for step in range(1, steps + 1):
            barrier.wait(timeout=60)
            if sqlite_store.advance(record.id, step):
                won.append(step)
        return won

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(hammer) for _ in range(threads)]
        winners = Counter(step for f in futures for step in f.result())
    assert winners == Counter(range(1, steps + 1))


def test_record_failure_across_threads_loses_no_increment(sqlite_store: SqliteStore) -> None:
    record = add_credential(sqlite_store)

    def fail(_: int) -> int:
        state = sqlite_store.record_failure(record.id, 0, never_throttle)
        assert state is not None
        return state.failures

    with ThreadPoolExecutor(8) as pool:
        counts = sorted(pool.map(fail, range(400)))
    assert counts == list(range(1, 401))
