"""Group commit vs one commit per write: `advance` from many threads on a real SQLite file.

Issue #12 item 1. Both runs use the same SqliteStore, file and thread count, alternating in
slices so they share the same moments of a noisy machine:

  one-per-write  the statement `advance` ran before group commit: one autocommit (one sync
                 under FULL) per write, behind the store's write lock
  group          `SqliteStore.advance` now: the writes queued while a commit runs share the
                 next transaction and its sync

Each thread advances its own credential one step at a time, so every write succeeds and does
the same work. The figure to quote: group / one-per-write, per mode.

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

from tests.support.stores import add_credential

from otpd.store import sql_statements
from otpd.store.sqlite import SqliteStore

Write = Callable[[int, int], object]


def _rate(write: Write, ids: list[int], steps: itertools.count[int], seconds: float) -> float:
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


def measure(sync: str, threads: int, seconds: float, folder: Path) -> tuple[float, float]:
    store = SqliteStore(folder / f"{sync}.db", synchronous=sync)
    ids = [add_credential(store, name=f"u{i}").id for i in range(threads)]
    steps = itertools.count(1)  # increasing across both runs: every advance wins

    def one_per_write(credential_id: int, step: int) -> object:
        params = (step, credential_id, step, 0, 0)
        return store._change(sql_statements._ADVANCE, params, "credential")

    def group(credential_id: int, step: int) -> object:
        return store.advance(credential_id, step, now=0)

    totals = {"one": 0.0, "group": 0.0}
    for _ in range(3):  # alternate slices
        totals["one"] += _rate(one_per_write, ids, steps, seconds / 6)
        totals["group"] += _rate(group, ids, steps, seconds / 6)
    store.close()
    return totals["one"] / 3, totals["group"] / 3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=6, help="per mode, both runs")
    parser.add_argument("--sync", default="FULL,NORMAL")
    parser.add_argument("--dir", type=Path, default=None, help="a real disk (default: temp)")
    args = parser.parse_args()
    print(f"advance() from {args.threads} threads, one credential each")
    print(f"{'sync':6}  {'one-per-write/s':>15}  {'group/s':>9}  {'group / one':>11}")
    with tempfile.TemporaryDirectory(dir=args.dir) as folder:
        for sync in args.sync.split(","):
            one, group = measure(sync, args.threads, args.seconds, Path(folder))
            print(f"{sync:6}  {one:15.0f}  {group:9.0f}  {group / one:11.2f}")


if __name__ == "__main__":
    main()
