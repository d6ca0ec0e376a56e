"""PostgreSQL: one commit per verification write, or the writes batched in one transaction?

Issue #12 on PostgreSQL. `advance` from many threads (one credential each, so every write
wins and does the same work) on one throw-away PostgreSQL 15 with its default durability
(fsync on, synchronous_commit on: tests/support/pgserver.py), in one run, alternating slices
so every mode shares the same moments of a noisy machine:

  one/10         `PostgresStore.advance` as it is: one autocommit UPDATE per write, on otpd's
                 default pool of 10 connections; PostgreSQL's own group commit flushes the WAL
                 of the commits that arrive together with one sync
  one/N          the same with a pool as large as the thread count (N commits can wait on one
                 WAL flush instead of 10)
  one/N+delay    the same with commit_delay = 1000 (us) and commit_siblings = 5 (ALTER SYSTEM,
                 reloaded), the tuning PostgreSQL's manual offers for many concurrent commits
  batched        SQLite's group committer (store/group_commit.py) over PostgreSQL: the writes
                 queued while a batch commits share the next transaction on one connection,
                 each in its own SAVEPOINT (sent with its UPDATE and RELEASE in one pipelined
                 round trip), one COMMIT per batch

Figures: writes per second, each mode / one/10, and batched / the best one-per-write mode.

Usage: .venv/bin/python -m bench.pg_commit [--threads 32] [--seconds 6]
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool
from tests.support.pgserver import PgServer
from tests.support.stores import add_credential

from bench.group_commit import rate
from otpd.store import sql_statements
from otpd.store.group_commit import GroupCommit
from otpd.store.pg_connect import pg_sql
from otpd.store.postgres import PostgresStore

_ADVANCE = pg_sql(sql_statements.ADVANCE)


class Batched(GroupCommit):
    """SQLite's group committer (store/group_commit.py: its queue and the hand-off of the lead)
    with a PostgreSQL batch: one transaction on one pooled connection, and per write its
    SAVEPOINT, UPDATE and RELEASE pipelined into one round trip, the cheapest batch that keeps
    each write's own savepoint."""

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        super().__init__(threading.Lock(), _no_sqlite, lambda exc, what: exc)
        self._pool = pool
        self.batches = 0
        self.writes = 0

    def advance(self, credential_id: int, step: int) -> bool:
        params = (step, credential_id, step, 0, 0)
        write: Any = lambda cur: cur.execute(_ADVANCE, params)  # noqa: E731 (a psycopg cursor)
        return bool(self.run(write, "credential"))

    def _commit(self, batch: list[Any]) -> None:
        self.batches += 1
        self.writes += len(batch)
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            for item in batch:
                with conn.pipeline():
                    cur.execute("SAVEPOINT w")
                    item.write(cur)
                    cur.execute("RELEASE w")
                item.result = True  # each thread's own credential, ever higher steps
        for item in batch:
            item.done = True


def _no_sqlite() -> Any:
    raise AssertionError("the PostgreSQL batch uses its pool, not a SQLite connection")


def _commit_delay(url: str, on: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for name, value in (("commit_delay", 1000), ("commit_siblings", 5)):
            if on:
                conn.execute(f"ALTER SYSTEM SET {name} = {value}")
            else:
                conn.execute(f"ALTER SYSTEM RESET {name}")
        conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.2)  # the backends pick the reload up at their next command


def measure(url: str, threads: int, seconds: float) -> tuple[dict[str, float], float]:
    small = PostgresStore(url, pool_size=10)
    large = PostgresStore(url, pool_size=threads)
    batched = Batched(large._pool)
    ids = [add_credential(small, name=f"u{i}").id for i in range(threads)]
    steps = itertools.count(1)  # increasing across every run: every advance wins
    modes: dict[str, Callable[[int, int], object]] = {
        "one/10": lambda i, step: small.advance(i, step, now=0),
        f"one/{threads}": lambda i, step: large.advance(i, step, now=0),
        f"one/{threads}+delay": lambda i, step: large.advance(i, step, now=0),
        "batched": batched.advance,
    }
    totals = dict.fromkeys(modes, 0.0)
    slices = 3
    for _ in range(slices):
        for name, write in modes.items():
            delayed = name.endswith("+delay")
            if delayed:
                _commit_delay(url, True)
            totals[name] += rate(write, ids, steps, seconds / slices) / slices
            if delayed:
                _commit_delay(url, False)
    small.close()
    large.close()
    return totals, batched.writes / max(1, batched.batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=6, help="per mode, all slices")
    args = parser.parse_args()
    server = PgServer(durable=True).init()
    try:
        totals, mean_batch = measure(server.create_database("bench"), args.threads, args.seconds)
    finally:
        server.destroy()
    print(f"advance() from {args.threads} threads, one credential each; PostgreSQL 15, fsync on,")
    print("synchronous_commit on")
    print(f"{'mode':16}  {'writes/s':>9}  {'vs one/10':>9}")
    base = totals["one/10"]
    for name, value in totals.items():
        print(f"{name:16}  {value:9.0f}  {value / base:9.2f}")
    best = max(value for name, value in totals.items() if name != "batched")
    print(f"batched / best one-per-write: {totals['batched'] / best:.2f}")
    print(f"mean batch: {mean_batch:.1f} writes")


if __name__ == "__main__":
    main()
