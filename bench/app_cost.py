"""What a request costs the app itself, without HTTP and without threads (issue #12,
docs/performance.md, "Where the time goes now").

The real app (otpd.web.app.create_app: middleware, routing, endpoints, services, the SQLite
store, logging at info to a file) is called in-process as ASGI, one request after another, with
the request's worker hop run inline (otpd.api.hop.run_in_worker patched): no server, no socket,
no thread hand-off. For each path it prints the process's CPU time per request (median of
--rounds, the paths taking turns) and the ratio to /healthz's, and how many answers were not the
expected one (a valid code accepted, a wrong one rejected). That ratio is the ceiling of the
suite's `vs healthz` (bench/suite.py): what the requests' own work allows before uvicorn, the
kernel and the hand-offs between the event loop and the worker threads add theirs.

    .venv/bin/python -m bench.app_cost [--users 3000] [--rounds 3] [--sync NORMAL]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    FREE_FAILURES,
    PERIOD,
    TENANT,
    add_client,
    cred_name,
    populate,
    print_table,
    secret_for,
    wrong_code,
)
from otpd.api import hop
from otpd.core.model import Scope
from otpd.core.otp import totp
from otpd.crypto.reencrypt import Reencryptor
from otpd.logs import configure_logging
from otpd.settings import load_settings
from otpd.web.app import create_app

__all__ = ["main"]

ASGIApp = Callable[..., Awaitable[None]]
Request = tuple[dict[str, Any], bytes]


def _request(method: str, path: str, query: str = "", headers: Sequence[tuple[str, str]] = (),
             body: bytes = b"") -> Request:  # fmt: skip
    raw = [(b"host", b"otpd"), *((k.encode(), v.encode()) for k, v in headers)]
    if body:
        raw.append((b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
        "root_path": "", "headers": raw, "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8080),
    }  # fmt: skip
    return scope, body


async def _call(app: ASGIApp, request: Request) -> tuple[int, bytes]:
    scope, body = request
    sent: list[dict[str, Any]] = []
    given = False

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # a disconnect never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(dict(scope), receive, send)
    return int(sent[0]["status"]), b"".join(m.get("body", b"") for m in sent[1:])


Case = tuple[int, bytes, Callable[[int], Request]]


def _paths(key: str) -> dict[str, Case]:
    """Each path: its expected status and body text, and its request for user i."""
    basic = base64.b64encode(f"bench:{key}".encode()).decode()
    phenix = [("authorization", f"Basic {basic}"), ("tenant", TENANT),
              ("content-type", "application/json")]  # fmt: skip

    def code(i: int, valid: bool) -> str:
        now = int(time.time())
        return totp(secret_for(i), now, PERIOD) if valid else wrong_code(secret_for(i), now)

    def token2(i: int, valid: bool) -> Request:
        query = f"api_key={key}&userid={i}&token={code(i, valid)}&format=1"
        return _request("GET", "/validate", query)

    def phenixid(i: int) -> Request:
        body = f'{{"username":"{cred_name(i)}","otp":"{code(i, False)}"}}'.encode()
        return _request("PUT", "/api/authentication/otp_token_auth", "", phenix, body)

    return {
        "healthz": (200, b"ok", lambda i: _request("GET", "/healthz")),
        "token2 validate valid": (200, b'"true"', lambda i: token2(i, True)),
        "token2 validate wrong": (200, b'"false"', lambda i: token2(i, False)),
        "phenixid put wrong": (403, b"", phenixid),
    }


async def _run(args: argparse.Namespace, data_dir: Path, key: str) -> list[list[object]]:
    environ = {"OTPD_DATA_DIR": str(data_dir), "OTPD_SQLITE_SYNCHRONOUS": args.sync,
               "OTPD_THROTTLE_FREE_FAILURES": str(FREE_FAILURES)}  # fmt: skip
    app = create_app(load_settings(environ=environ))
    costs: dict[str, list[float]] = {}
    unexpected: dict[str, int] = {}
    paths = _paths(key)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        worker = Reencryptor(runtime.store, runtime.sealer)
        while worker.needed():  # the populated rows, sealed before the tenant's data key
            worker.run_pass()
        for round_ in range(args.rounds):
            # a third of the users a round, others each round: a valid code is used once
            count = args.users // 3
            first = (round_ * count) % args.users
            users = [(first + i) % args.users + 1 for i in range(count)]
            for name, (status, needle, make) in paths.items():
                requests = [make(i) for i in users]
                bad = 0
                started = time.process_time()
                for request in requests:
                    got, body = await _call(app, request)
                    bad += got != status or needle not in body
                spent = time.process_time() - started
                unexpected[name] = unexpected.get(name, 0) + bad
                costs.setdefault(name, []).append(spent / len(requests) * 1e6)
    base = statistics.median(costs["healthz"])
    return [[name, f"{statistics.median(c):.0f}", f"{statistics.median(c) / base:.2f}",
             f"{base / statistics.median(c):.2f}", unexpected[name]]
            for name, c in costs.items()]  # fmt: skip


async def _inline(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sync", default="NORMAL", choices=("FULL", "NORMAL"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otpd-app-cost-") as tmp:
        data_dir = Path(tmp) / "data"
        populate(data_dir, args.users)
        key = add_client(data_dir, "bench", [Scope.READ, Scope.WRITE, Scope.VERIFY])
        log = (Path(tmp) / "otpd.log").open("w")
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)  # the log lines are written, as by a server, to a file
        hop.run_in_worker = _inline  # type: ignore[assignment]
        try:
            configure_logging("info")
            rows = asyncio.run(_run(args, data_dir, key))
        finally:
            os.dup2(saved, 2)
            log.close()
    print(f"the app in-process, hop inline, synchronous={args.sync}, {args.rounds} rounds of "
          f"{args.users // 3:,} requests a path (median)")  # fmt: skip
    print_table(["path", "CPU us/request", "x healthz", "healthz / path", "unexpected"], rows)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
