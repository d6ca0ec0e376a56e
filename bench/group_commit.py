"""Group commit vs one commit per write: `advance` from many threads on a real SQLite file.

Issue #12 item 1. Every run uses the same SqliteStore, file and thread count, alternating in
slices so they share the same moments of a noisy machine:

  one-per-write  the statement `advance` ran before group commit: one autocommit (one sync
                 under FULL) per write, behind the store's write lock
  group          `SqliteStore.advance` now: the writes queued while a commit runs share the
                 next transaction and its sync; waiting callers each wait on their own lock
                 and the leader wakes its batch's callers (store/group_commit.py)
  lock-wait      the group commit as first written: waiting callers queued on the store's
                 write lock, so a finished batch released them one at a time

Each thread advances its own credential one step at a time, so every write succeeds and does
the same work. The figures to quote: group / one-per-write and group / lock-wait, per mode.

Usage: .venv/bin/python -m bench.group_commit [--threads 32] [--seconds 6] [--sync FULL,NORMAL]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.stores import add_credential

from otpd.store import sql_statements
from otpd.store.group_commit import GroupCommit, T, _Pending
from otpd.store.group_commit import Write as StoreWrite
from otpd.store.sqlite import SqliteStore

Write = Callable[[int, int], object]


class LockWait(GroupCommit):
    """GroupCommit.run as first written (issue #12): queue, then take the write lock; whoever
    gets it commits every queued write, the others find theirs done when they get it."""

    def run(self, write: StoreWrite[T], what: str, *, statement: bool = False) -> T:
        item: _Pending[T] = _Pending(write, what, statement)
        with self._queue_lock:
            self._queue.append(item)
        while not item.done:
            with self._write_lock:
                if not item.done:
                    with self._queue_lock:
                        batch = self._queue[: self._max_batch]
                        del self._queue[: self._max_batch]
                    self._commit(batch)
        if item.error is not None:
            raise item.error
        return item.result  # type: ignore[return-value]


def rate(write: Write, ids: list[int], steps: itertools.count[int], seconds: float) -> float:
    done = [0] * len(ids)
    stop = time.monotonic() + seconds

    def loop(index: int) -> None:
        while time.monotonic() < stop:
            write(ids[index], next(steps))
            done[index] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(ids))]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def measure(sync: str, threads: int, seconds: float, folder: Path) -> dict[str, float]:
    store = SqliteStore(folder / f"{sync}.db", synchronous=sync)
    ids = [add_credential(store, name=f"u{i}").id for i in range(threads)]
    steps = itertools.count(1)  # increasing across every run: every advance wins
    group = store._group
    lock_wait = LockWait(store._write_lock, store._connection, group._translate)
    sizes: list[int] = []  # writes per group commit
    commit = group._commit

    def counted(batch: list[Any]) -> None:
        sizes.append(len(batch))
        commit(batch)

    group._commit = counted  # type: ignore[method-assign]

    def one_per_write(credential_id: int, step: int) -> object:
        params = (step, credential_id, step, 0, 0)
        return store._change(sql_statements.ADVANCE, params, "credential")

    def grouped(credential_id: int, step: int) -> object:
        return store.advance(credential_id, step, now=0)

    def waiting_on_the_lock(credential_id: int, step: int) -> object:
        params = (step, credential_id, step, 0, 0)  # SqliteStore.advance's write
        return lock_wait.run(
            lambda conn: conn.execute(sql_statements.ADVANCE, params).rowcount == 1, "credential"
        )

    modes = {"one": one_per_write, "group": grouped, "lock-wait": waiting_on_the_lock}
    totals = dict.fromkeys(modes, 0.0)
    for _ in range(3):  # alternate slices
        for name, write in modes.items():
            totals[name] += rate(write, ids, steps, seconds / 9) / 3
    store.close()
    totals["batch"] = sum(sizes) / max(1, len(sizes))
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=6, help="per sync mode, all three runs")
    parser.add_argument("--sync", default="FULL,NORMAL")
    parser.add_argument("--dir", type=Path, default=None, help="a real disk (default: temp)")
    args = parser.parse_args()
    print(f"advance() from {args.threads} threads, one credential each")
    print(
        f"{'sync':6}  {'one/s':>7}  {'group/s':>8}  {'lock-wait/s':>11}  {'group / one':>11}"
        f"  {'group / lock-wait':>17}  mean batch"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for sync in args.sync.split(","):
            r = measure(sync, args.threads, args.seconds, Path(folder))
            print(
                f"{sync:6}  {r['one']:7.0f}  {r['group']:8.0f}  {r['lock-wait']:11.0f}"
                f"  {r['group'] / r['one']:11.2f}  {r['group'] / r['lock-wait']:17.2f}"
                f"  {r['batch']:10.1f}"
            )


if __name__ == "__main__":
    main()
