"""Group commit for the SQLite store's verification writes (issue #12, docs/performance.md).

Under synchronous=FULL every commit waits for an fsync, and one fsync per verification, one
after another, was 81% of the server's busy time. The writes that decide a verification's
outcome (advance, record_failure, record_refusal, record_unknown_attempt) therefore go
through a `GroupCommit`: each caller queues its write. A caller that finds no leader becomes
it: it takes the store's write lock, then every write queued by then, and runs them in ONE
`BEGIN IMMEDIATE ... COMMIT` and so one fsync. The others sleep, each on its own lock, until
the leader has committed their write and wakes exactly them; the leader then hands the lead to
the oldest caller still queued (writes that arrived during its commit), which commits the
next batch. There is no writer thread to start or stop.

Each caller sleeps once and is woken once. An earlier version had every caller queue on the
store's write lock itself: the callers whose writes were already done then woke one after
another, each passing the lock on, and those behind a new leader waited for its commit too,
a second fsync for a write already on disk (docs/performance.md, "Lean hot path").

What stays the same for each caller (docs/requirements.md#durable-before-success and
docs/requirements.md#single-use):
- the call returns only after the COMMIT holding its write returned, so under FULL the write
  is on disk before the request is answered; an unknown COMMIT outcome is a failure;
- each write is its own conditional statement (the compare-and-set of `advance`, the throttle
  test of `record_failure`), run in order inside the batch: two writes for one step in one
  batch have one winner, exactly as one after another. Across processes and instances SQLite's
  write lock serialises whole batches;
- each write runs inside its own SAVEPOINT, so a write that fails (a constraint, an error
  raised by the policy callback) is rolled back alone and fails only its own caller. If SQLite
  rolled back the whole transaction instead (disk full, I/O error: https://sqlite.org/lang_transaction.html
  "Response To Errors Within A Transaction"), every write of the batch fails: none is
  acknowledged without reaching the disk.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Generic, TypeVar

__all__ = ["GroupCommit"]

T = TypeVar("T")
# A write: runs its statements on the leader's connection, inside the batch's transaction.
Write = Callable[[sqlite3.Connection], T]
# Turns a sqlite3 error into the store's domain error (sqlite._translate's mapping).
Translate = Callable[[BaseException, str], BaseException]


class _Pending(Generic[T]):
    __slots__ = ("done", "error", "result", "statement", "wake", "what", "write")

    def __init__(self, write: Write[T], what: str, statement: bool) -> None:
        self.write = write
        self.what = what
        self.statement = statement  # the write is one SQL statement
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None
        # Held from the start; released once, by the leader: when the write is done, or to
        # hand this caller the lead. A Lock may be released by another thread.
        self.wake = threading.Lock()
        self.wake.acquire()


class GroupCommit:
    def __init__(
        self,
        write_lock: threading.Lock,
        connection: Callable[[], sqlite3.Connection],
        translate: Translate,
        *,
        max_batch: int = 256,
    ) -> None:
        self._write_lock = write_lock  # the store's: its other writes and the batches queue on it
        self._connection = connection
        self._translate = translate
        self._max_batch = max_batch
        self._queue_lock = threading.Lock()  # held only to append or take, never across I/O
        self._queue: list[_Pending[Any]] = []
        self._leading = False  # a caller leads: commits, or is about to (under _queue_lock)

    def run(self, write: Write[T], what: str, *, statement: bool = False) -> T:
        """Run `write` in the next batch; return its result once the batch is committed.
        `statement`: the write runs exactly one SQL statement, so it needs no savepoint."""
        item: _Pending[T] = _Pending(write, what, statement)
        with self._queue_lock:
            self._queue.append(item)
            follow, self._leading = self._leading, True
        if follow:
            item.wake.acquire()  # done by a leader, or handed the lead
        if not item.done:
            self._lead(item)
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]  # set by _commit when no error

    def _lead(self, own: _Pending[Any]) -> None:
        """Commit what is queued once the write lock is got (the oldest first, so `own` is in
        it), wake its callers, and hand the lead to the oldest caller still queued."""
        batch: list[_Pending[Any]] = []
        try:
            with self._write_lock:
                with self._queue_lock:
                    batch = self._queue[: self._max_batch]
                    del self._queue[: self._max_batch]
                self._commit(batch)
        finally:
            with self._queue_lock:
                if not own.done and own in self._queue:  # interrupted before taking it
                    self._queue.remove(own)
                successor = self._queue[0] if self._queue else None
                self._leading = successor is not None
            for item in batch:
                if item is not own:
                    item.wake.release()
            if successor is not None:
                successor.wake.release()

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        try:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:
            self._fail(batch, exc)
            return
        try:
            for item in batch:
                self._one(conn, item, len(batch) == 1)
                if not conn.in_transaction:  # SQLite rolled the whole batch back
                    self._fail(batch, sqlite3.OperationalError("the batch was rolled back"))
                    return
            conn.execute("COMMIT")
        except BaseException as exc:
            # An unknown COMMIT outcome is a failure (docs/requirements.md#durable-before-success).
            with suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            self._fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for item in batch:
            item.done = True

    def _one(self, conn: sqlite3.Connection, item: _Pending[Any], alone: bool) -> None:
        # A write alone in its batch needs no savepoint: on failure the whole transaction,
        # which holds nothing else, is rolled back (and _commit reports it). Nor does a write
        # of one statement: SQLite undoes a failed statement and keeps the transaction, or
        # rolls the whole transaction back (https://sqlite.org/lang_transaction.html,
        # "Response To Errors Within A Transaction"), which _commit reports. Two fewer
        # statements per write, each a GIL release and re-acquisition in this thread.
        savepoint = not alone and not item.statement
        if savepoint:
            conn.execute("SAVEPOINT w")
        try:
            item.result = item.write(conn)
        except Exception as exc:
            item.error = self._translate(exc, item.what)
            if conn.in_transaction and (alone or savepoint):
                conn.execute("ROLLBACK" if alone else "ROLLBACK TO w")
        if conn.in_transaction and savepoint:
            conn.execute("RELEASE w")

    def _fail(self, batch: list[_Pending[Any]], exc: BaseException) -> None:
        # Every write of the batch fails, also one that had succeeded inside it: its
        # savepoint was released into a transaction that never committed.
        for item in batch:
            if item.error is None:
                item.error = self._translate(exc, item.what)
            item.done = True
