"""The worker hop: where a request's blocking work runs (docs/design.md#request-flow).

One thread pool per process, made on first use, so each worker process of `otpd serve
--workers N` makes its own after the fork. `run_in_worker` is what otpd.api.common.one_hop and
/healthz await: `concurrent.futures.ThreadPoolExecutor.submit` and `asyncio.wrap_future`
instead of starlette's run_in_threadpool (anyio.to_thread.run_sync), which adds a capacity
limiter, a cancel scope and a Python-level job queue to every hop: bench/request_cost.py counts
the hops, docs/performance.md ("Lean hot path") has the measurement.

What stays as with anyio: the function sees the caller's context variables (the request id and
caller the audit events carry), and a task cancelled while its function runs ends only once
the function has returned (a write is never left running behind a finished request).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

__all__ = ["THREADS", "run_in_worker"]

P = ParamSpec("P")
T = TypeVar("T")

# Requests in a worker thread at once, per process; more wait in the pool's queue. 40 as with
# anyio's default limit: 64 measured no faster for the verifications (bench/variants.py) and let
# 64 CPU-heavy requests (get-qr-code renders a PNG) share the GIL at once, which stretched their
# tail. Under synchronous=FULL a request holds its thread until the commit holding its write
# returns, so the threads also bound a commit's batch (otpd.store.group_commit).
THREADS = 40


class _Pool:
    """The process's executor, made again in a forked child (threads do not survive a fork)."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._pid = 0

    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None or self._pid != os.getpid():
            self._executor = ThreadPoolExecutor(THREADS, thread_name_prefix="otpd-worker")
            self._pid = os.getpid()
        return self._executor


_POOL = _Pool()


async def run_in_worker(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` in a worker thread, in a copy of the caller's context."""
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    future = _POOL.executor().submit(call)
    try:
        return await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        if not future.cancel():  # running: it cannot be stopped, so wait until it returns
            await asyncio.wait([asyncio.wrap_future(future)])
        raise
