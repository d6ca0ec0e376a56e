"""The real otpd app as an app factory for ASGI servers (used by bench/server_choice.py).

    uvicorn --factory bench.asgi_app:make_app ...
    granian --interface asgi --factory bench.asgi_app:make_app ...

Settings come from the usual OTPD_* variables (otpd.settings.load_settings), and logging is
set up as `otpd serve` sets it up. With BENCH_DIRECT_CALL=1 the Strongbox routes call the
service on the event loop instead of hopping to the thread pool (a monkeypatch of
otpd.api.strongbox.routes._call in this process only; src/ is not changed).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette

from otpd.api.strongbox import routes
from otpd.settings import load_settings
from otpd.web.app import create_app
from otpd.web.server import configure_logging

__all__ = ["DIRECT_CALL_ENV", "direct_call", "make_app"]

DIRECT_CALL_ENV = "BENCH_DIRECT_CALL"


async def direct_call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """routes._call without run_in_threadpool: the service runs on the event loop thread."""
    return fn(*args, **kwargs)


def make_app() -> Starlette:
    settings = load_settings()
    configure_logging(settings.log_level)
    if os.environ.get(DIRECT_CALL_ENV) == "1":
        routes._call = direct_call
    return create_app(settings)
