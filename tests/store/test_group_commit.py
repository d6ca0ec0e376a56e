"""Group commit of the verification writes in SqliteStore (issue #12, otpd.store.group_commit).

Each test forms one batch for certain: it holds the store's write lock while the callers queue
their writes, then lets go, so the first caller to get the lock commits all of them at once.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from otpd.core.errors import StoreUnavailable
from otpd.core.model import ThrottleState
from otpd.store.group_commit import GroupCommit
from otpd.store.sqlite import SqliteStore
from tests.support.disk import fill, small_tmpfs
from tests.support.stores import add_credential, never_throttle, unknown_attempts

Call = Callable[[], Any]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "otpd.db")
    yield opened
    opened.close()


def one_batch(store: SqliteStore, calls: list[Call]) -> list[Any]:
    """Run `calls` in threads so that their writes share one batch; each call's result, or
    the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except Exception as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    with store._write_lock:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(store._group._queue) < len(calls):
            assert time.monotonic() < deadline, "the writes never queued"
            time.sleep(0.001)
    for thread in threads:
        thread.join(timeout=30)
    assert store._group._queue == []
    return results


def row(path: Path, name: str) -> tuple[int, int, int]:
    """(last_step, failures, refused) as a fresh connection reads the file."""
    with closing(sqlite3.connect(path)) as conn:
        sql = "SELECT last_step, failures, refused FROM credential WHERE name = ?"
        found: tuple[int, int, int] = conn.execute(sql, (name,)).fetchone()
    return found


def poison(path: Path, name: str) -> None:
    """A trigger that refuses every write to one credential: a constraint that fails."""
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(
            f"CREATE TRIGGER poison BEFORE UPDATE ON credential WHEN OLD.name = '{name}'"
            " BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
        conn.commit()


def test_two_writes_for_one_step_in_one_batch_have_one_winner(store: SqliteStore) -> None:
    record = add_credential(store)
    results = one_batch(store, [lambda: store.advance(record.id, 7, now=0)] * 8)
    assert sorted(results) == [False] * 7 + [True]
    # and a lower step after it in the next batch loses: the step never moves back
    assert one_batch(store, [lambda: store.advance(record.id, 6)]) == [False]
    assert row(store._path, "alice")[0] == 7


def test_failures_in_one_batch_each_see_their_own_count(store: SqliteStore) -> None:
    record = add_credential(store)
    calls: list[Call] = [lambda: store.record_failure(record.id, 0, never_throttle)] * 10
    states = one_batch(store, calls)
    assert sorted(s.failures for s in states) == list(range(1, 11))
    assert row(store._path, "alice")[1] == 10


def test_one_failing_write_fails_only_its_own_caller(store: SqliteStore) -> None:
    good = add_credential(store, name="good")
    bad = add_credential(store, name="bad")
    counted = add_credential(store, name="counted")
    poison(store._path, "bad")

    def boom(failures: int) -> ThrottleState:
        raise ValueError("the policy failed")

    results = one_batch(
        store,
        [
            lambda: store.advance(good.id, 5, now=0),
            lambda: store.advance(bad.id, 5, now=0),
            lambda: store.record_failure(counted.id, 0, never_throttle),
            lambda: store.record_failure(good.id, 0, boom),
            lambda: store.record_unknown_attempt("acme"),
            lambda: store.record_failure(bad.id, 0, never_throttle),
        ],
    )
    assert results[0] is True
    assert isinstance(results[1], StoreUnavailable)
    assert "SQLITE_CONSTRAINT_TRIGGER" in str(results[1])
    assert results[2] == ThrottleState(failures=1, not_before=0)
    assert isinstance(results[3], ValueError)
    assert results[4] is None
    assert isinstance(results[5], StoreUnavailable)
    # What was acknowledged is in the file; what failed left no trace, not even the
    # increment that ran before the policy raised.
    assert row(store._path, "good") == (5, 0, 0)
    assert row(store._path, "bad") == (-1, 0, 0)
    assert row(store._path, "counted") == (-1, 1, 0)
    assert unknown_attempts(store, "acme") == 1
    # alone in its batch (no savepoint), the same: it fails, and the next batch is unharmed
    alone = one_batch(store, [lambda: store.advance(bad.id, 6, now=0)])
    assert isinstance(alone[0], StoreUnavailable)
    assert one_batch(store, [lambda: store.advance(good.id, 6, now=0)]) == [True]
    assert row(store._path, "bad") == (-1, 0, 0)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path, "2m") as mount_point:
        yield mount_point


def test_a_full_disk_fails_the_whole_batch_and_acknowledges_nothing(small_disk: Path) -> None:
    store = SqliteStore(small_disk / "otpd.db")
    try:
        records = [add_credential(store, name=f"u{i}") for i in range(40)]
        fill(small_disk / "filler")
        # Enough writes to need new WAL pages: the commit cannot reach the disk.
        calls: list[Call] = [
            (lambda r=r: store.advance(r.id, 9, now=0))
            for r in records  # type: ignore[misc]
        ]
        calls += [(lambda r=r: store.record_failure(r.id, 0, never_throttle)) for r in records]
        results = one_batch(store, calls)
        assert all(isinstance(r, StoreUnavailable) for r in results), results
        (small_disk / "filler").unlink()
        assert one_batch(store, [lambda: store.advance(records[0].id, 3, now=0)]) == [True]
    finally:
        store.close()
    with closing(sqlite3.connect(small_disk / "otpd.db")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert row(small_disk / "otpd.db", "u0") == (3, 0, 0)
    for i in range(1, 40):
        assert row(small_disk / "otpd.db", f"u{i}") == (-1, 0, 0)


def test_under_contention_every_caller_gets_its_own_answer(store: SqliteStore) -> None:
    """Many callers at once, batch after batch: the lead passes from caller to caller and
    every call returns, with exactly the results of the same writes one after another."""
    shared = add_credential(store, name="shared")
    own = [add_credential(store, name=f"u{i}") for i in range(16)]
    counts: list[list[int]] = [[] for _ in own]
    wins: list[list[bool]] = [[] for _ in own]

    def work(index: int) -> None:
        for step in range(1, 41):
            counted = store.record_failure(shared.id, 0, never_throttle)
            assert counted is not None
            counts[index].append(counted.failures)
            wins[index].append(store.advance(own[index].id, step, now=0))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(own))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive(), "a caller never got its answer"
    assert sorted(c for per_thread in counts for c in per_thread) == list(range(1, 641))
    assert all(per_thread == sorted(per_thread) for per_thread in counts)
    assert all(all(per_thread) and len(per_thread) == 40 for per_thread in wins)
    assert row(store._path, "shared")[1] == 640
    assert all(row(store._path, f"u{i}")[0] == 40 for i in range(len(own)))
    assert store._group._queue == [] and not store._group._leading


def test_a_committed_write_is_answered_without_waiting_for_the_next_batch(tmp_path: Path) -> None:
    """Each caller is woken when the batch holding its write has committed: not after a later
    batch's commit (that one may sync for milliseconds). Batch 1 holds A and B; C arrives
    while batch 1 runs and leads batch 2, whose write is held open: B must return anyway."""
    conn = sqlite3.connect(tmp_path / "gc.db", check_same_thread=False, isolation_level=None)
    conn.execute("CREATE TABLE t (x INTEGER)")
    lock = threading.Lock()
    group = GroupCommit(lock, lambda: conn, lambda exc, what: exc)
    a_inside, a_go, c_inside, c_go = (threading.Event() for _ in range(4))

    def held(inside: threading.Event, go: threading.Event) -> Callable[[sqlite3.Connection], int]:
        def write(c: sqlite3.Connection) -> int:
            inside.set()
            assert go.wait(30)
            return c.execute("INSERT INTO t VALUES (1)").rowcount

        return write

    def insert(c: sqlite3.Connection) -> int:
        return c.execute("INSERT INTO t VALUES (2)").rowcount

    a = threading.Thread(target=group.run, args=(held(a_inside, a_go), "a"))
    b = threading.Thread(target=group.run, args=(insert, "b"))
    c = threading.Thread(target=group.run, args=(held(c_inside, c_go), "c"))
    with lock:  # A and B queue before the lock is free: one batch
        a.start()
        b.start()
        while len(group._queue) < 2:
            time.sleep(0.001)
    assert a_inside.wait(30)
    c.start()  # during batch 1: it waits for the next batch
    while len(group._queue) < 1:
        time.sleep(0.001)
    a_go.set()
    assert c_inside.wait(30)  # batch 2 is running and held open
    b.join(timeout=30)
    a.join(timeout=30)
    try:
        assert not b.is_alive() and not a.is_alive()
    finally:
        c_go.set()
        c.join(timeout=30)
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone() == (3,)
    conn.close()


def test_a_read_does_not_wait_for_a_batch_being_committed(store: SqliteStore) -> None:
    """The verification's credential lookup takes neither the store's write lock nor SQLite's:
    while a batch holds both (its write done, its COMMIT not yet), a read answers at once with
    the last committed state (WAL: https://sqlite.org/wal.html, "Concurrency")."""
    record = add_credential(store)
    inside, go = threading.Event(), threading.Event()

    def held_write(conn: sqlite3.Connection) -> int:
        conn.execute("UPDATE credential SET last_step = 99 WHERE id = ?", (record.id,))
        inside.set()
        assert go.wait(30)
        return 1

    writer = threading.Thread(target=store._group.run, args=(held_write, "credential"))
    writer.start()
    try:
        assert inside.wait(30)
        assert store._write_lock.locked()
        seen: list[Any] = []
        reader = threading.Thread(
            target=lambda: seen.append(store.get_credential_by_id("acme", record.id))
        )
        reader.start()
        reader.join(timeout=10)
        assert not reader.is_alive(), "the read waited for the batch"
        assert seen[0] is not None and seen[0].last_step == -1
    finally:
        go.set()
        writer.join(timeout=30)
    assert store.get_credential_by_id("acme", record.id).last_step == 99  # type: ignore[union-attr]
