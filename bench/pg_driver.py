"""psycopg's synchronous or asynchronous API for the PostgreSQL store (issue #11)?

Both are measured the way otpd would call them, on one throw-away PostgreSQL 15 with its
default durability (tests/support/pgserver.py), in the same run:

  sync    psycopg_pool.ConnectionPool, each statement run from the event loop through
          starlette's run_in_threadpool (how every store call is made today)
  async   psycopg_pool.AsyncConnectionPool, each statement awaited on the event loop

The statement is record_failure's increment (UPDATE ... RETURNING, autocommit), over 200
credentials, --tasks concurrent callers, pool size 10. Figures: statements per second and
async / sync.

Usage: .venv/bin/python -m bench.pg_driver [--seconds 3] [--tasks 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, ConnectionPool
from starlette.concurrency import run_in_threadpool
from tests.support.pgserver import PgServer

SQL = "UPDATE t SET failures = failures + 1 WHERE id = %s RETURNING failures"
ROWS = 200


async def _drive(call: Callable[[int], Awaitable[Any]], tasks: int, seconds: float) -> float:
    ids = itertools.cycle(range(1, ROWS + 1))
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call(next(ids))
            done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return done / (time.perf_counter() - start)


async def _sync_rate(url: str, tasks: int, seconds: float) -> float:
    with ConnectionPool(url, min_size=10, max_size=10, kwargs={"autocommit": True}) as pool:

        def one(i: int) -> Any:
            with pool.connection() as conn:
                return conn.execute(SQL, (i,)).fetchone()

        async def call(i: int) -> Any:
            return await run_in_threadpool(one, i)

        return await _drive(call, tasks, seconds)


async def _async_rate(url: str, tasks: int, seconds: float) -> float:
    pool = AsyncConnectionPool(url, min_size=10, max_size=10, kwargs={"autocommit": True})
    async with pool:

        async def call(i: int) -> Any:
            async with pool.connection() as conn:
                cur = await conn.execute(SQL, (i,))
                return await cur.fetchone()

        return await _drive(call, tasks, seconds)


def main() -> int:
    parser = argparse.ArgumentParser(description="psycopg sync vs async for otpd's store")
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--tasks", type=int, default=16)
    args = parser.parse_args()
    server = PgServer(durable=True).init()
    try:
        url = server.create_database("driver")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE t (id BIGINT PRIMARY KEY, failures BIGINT NOT NULL)")
            conn.execute("INSERT INTO t SELECT g, 0 FROM generate_series(1, %s) g", (ROWS,))
        rates = {}
        for name, measure in (("sync", _sync_rate), ("async", _async_rate), ("sync2", _sync_rate)):
            rates[name] = asyncio.run(measure(url, args.tasks, args.seconds))
    finally:
        server.destroy()
    sync = (rates["sync"] + rates["sync2"]) / 2  # measured before and after async
    runs = f"runs {rates['sync']:.0f}, {rates['sync2']:.0f}"
    print(f"sync  (thread pool): {sync:8.0f} statements/s ({runs})")
    print(f"async (event loop):  {rates['async']:8.0f} statements/s")
    print(f"async / sync: {rates['async'] / sync:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
