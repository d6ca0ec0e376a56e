"""The real otpd app as an app factory for ASGI servers (used by bench/server_choice.py).

    uvicorn --factory bench.asgi_app:make_app ...
    granian --interface asgi --factory bench.asgi_app:make_app ...

Settings come from the usual OTPD_* variables (otpd.settings.load_settings), and logging is
set up as `otpd serve` sets it up. BENCH_CALL chooses how the API adapters reach the services:

  hop         as shipped: run_in_threadpool (anyio's default pool, up to 40 threads)
  direct      direct_call: on the event loop thread, no hop
  one-thread  one_thread_call: the hop, but one worker thread at a time (so no two threads'
              SQLite connections contend for the write lock)

For the last two, every otpd module global bound to starlette's run_in_threadpool (today in
otpd.api.strongbox.context, whose `call` every Strongbox handler uses, and in the PhenixID
routes) is rebound to the replacement, in this process only. src/ is not changed.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

import otpd.api
from bench.common import CALL_MODE_ENV
from otpd.logs import configure_logging
from otpd.settings import load_settings
from otpd.web.app import create_app

__all__ = ["direct_call", "hop_references", "make_app", "one_thread_call", "replace_hop"]

Call = Callable[..., Awaitable[Any]]
_limiter: list[anyio.CapacityLimiter] = []  # made on first use, inside the event loop


async def direct_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The thread hop without the hop: the service runs on the event loop thread."""
    return fn(*args, **kwargs)


async def one_thread_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """run_in_threadpool, but at most one worker thread at a time."""
    if not _limiter:
        _limiter.append(anyio.CapacityLimiter(1))
    return await anyio.to_thread.run_sync(
        functools.partial(fn, *args, **kwargs), limiter=_limiter[0]
    )


CALLS: dict[str, Call] = {"direct": direct_call, "one-thread": one_thread_call}


def hop_references() -> list[tuple[str, str]]:
    """(module, name) of every otpd module global bound to starlette's run_in_threadpool."""
    for info in pkgutil.walk_packages(otpd.api.__path__, "otpd.api."):
        importlib.import_module(info.name)
    modules = [(n, m) for n, m in sys.modules.items() if n.startswith("otpd.") and m]
    return sorted(
        (module_name, name)
        for module_name, module in modules
        for name, value in vars(module).items()
        if value is run_in_threadpool
    )


def replace_hop(call: Call) -> None:
    """Rebind every reference found by hop_references() to `call` (same signature)."""
    found = hop_references()
    if not found:
        raise RuntimeError("otpd no longer uses starlette's run_in_threadpool: update bench/")
    for module_name, name in found:
        setattr(sys.modules[module_name], name, call)


def make_app() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_level)
    mode = os.environ.get(CALL_MODE_ENV, "hop")
    if mode != "hop":
        replace_hop(CALLS[mode])
    return create_app(settings)
