"""The real otpd app as an app factory for ASGI servers (used by bench/server_choice.py).

    uvicorn --factory bench.asgi_app:make_app ...
    granian --interface asgi --factory bench.asgi_app:make_app ...

Settings come from the usual OTPD_* variables (otpd.settings.load_settings), and logging is
set up as `otpd serve` sets it up. With BENCH_DIRECT_CALL=1 the API adapters call the service
on the event loop instead of hopping to the thread pool: every function in an otpd.api module
that wraps starlette's run_in_threadpool (today otpd.api.strongbox.context.call, imported by
name into each handler module) is replaced, in this process only, by direct_call. src/ is
not changed.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

import otpd.api
from bench.common import DIRECT_CALL_ENV
from otpd.settings import load_settings
from otpd.web.app import create_app
from otpd.web.server import configure_logging

__all__ = ["direct_call", "hop_functions", "make_app", "remove_thread_hop"]


async def direct_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The thread hop without the hop: the service runs on the event loop thread."""
    return fn(*args, **kwargs)


def _is_hop(value: object) -> bool:
    code = getattr(value, "__code__", None)
    return inspect.iscoroutinefunction(value) and "run_in_threadpool" in code.co_names


def hop_functions() -> list[tuple[str, str]]:
    """(module, name) of every otpd.api global that is a run_in_threadpool wrapper."""
    for info in pkgutil.walk_packages(otpd.api.__path__, "otpd.api."):
        importlib.import_module(info.name)
    modules = [(n, m) for n, m in sys.modules.items() if n.startswith("otpd.api.") and m]
    return sorted(
        (module_name, name)
        for module_name, module in modules
        for name, value in vars(module).items()
        if _is_hop(value)
    )


def remove_thread_hop() -> list[str]:
    """Point every hop wrapper found by hop_functions() at direct_call."""
    found = hop_functions()
    if not found:
        raise RuntimeError("no run_in_threadpool wrapper found in otpd.api: update bench/")
    for module_name, name in found:
        setattr(sys.modules[module_name], name, direct_call)
    return [f"{module}.{name}" for module, name in found]


def make_app() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_level)
    if os.environ.get(DIRECT_CALL_ENV) == "1":
        remove_thread_hop()
    return create_app(settings)
