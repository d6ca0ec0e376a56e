"""Thread hops and store round trips per request, for each verification path, the
Strongbox reads that used to hop more than once, and a token refresh (issue #10).

    .venv/bin/python -m bench.request_cost [--sql]   (--sql: also print each statement)

1. A fresh data directory (bench.common.populate: seal key file, schema, tenant, credentials)
   and an API client with every scope.
2. The real app (otpd.web.app.create_app) through httpx's ASGI transport, lifespan included.
3. Instrumentation: `otpd.api.hop.run_in_worker` (what one_hop calls) and
   `anyio.to_thread.run_sync` (what starlette's run_in_threadpool calls) are wrapped to count
   hops, so a hop either way is counted; every SQLite connection the store opens gets a trace
   callback that counts statements (BEGIN/COMMIT/ROLLBACK and PRAGMAs apart) and round trips
   (a transaction, or one autocommit statement outside one).
4. Each path runs once to warm up (connections, caches), then once measured.
5. RADIUS: the handler is called directly, as server.py calls it in its one executor hop
   (loop.run_in_executor per Access-Request), so its hop count is 1 by construction.

Prints one table; the figures are counts, not timings, so they are the same on every machine.
"""

from __future__ import annotations

import base64
import functools
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from starlette.applications import Starlette

import otpd.store.sqlite as sqlite_store
from bench.common import PERIOD, TENANT, add_client, cred_name, populate, print_table, secret_for
from otpd.api import hop
from otpd.core.model import Scope
from otpd.core.otp import totp
from otpd.core.trail import WRITER_THREAD
from otpd.settings import load_settings
from otpd.web.app import create_app

__all__ = ["main"]


class Counter:
    def __init__(self) -> None:
        self.hops = 0
        self.statements = 0
        self.round_trips = 0
        self._in_tx: dict[int, bool] = {}
        self.seen: list[str] = []

    def trace(self, conn_id: int, sql: str) -> None:
        word = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else ""
        if word == "PRAGMA" or threading.current_thread().name == WRITER_THREAD:
            return  # the audit trail's writer appends in the background, on its own schedule
        self.seen.append(" ".join(sql.split())[:90])
        if word == "BEGIN":
            self._in_tx[conn_id] = True
            self.round_trips += 1
        elif word in ("COMMIT", "ROLLBACK", "END"):
            self._in_tx[conn_id] = False
        else:
            self.statements += 1
            if not self._in_tx.get(conn_id):
                self.round_trips += 1

    def reset(self) -> None:
        self.hops = self.statements = self.round_trips = 0
        self.seen = []


COUNTER = Counter()


@contextmanager
def instrumented() -> Iterator[None]:
    original_run_sync = anyio.to_thread.run_sync
    original_run_in_worker = hop.run_in_worker
    # The name sqlite.py calls (imported there from store.sqlite_connect).
    original_connect: Callable[..., Any] = getattr(sqlite_store, "connect")  # noqa: B009

    async def run_sync(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        COUNTER.hops += 1
        return await original_run_sync(func, *args, **kwargs)

    async def run_in_worker(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        COUNTER.hops += 1
        return await original_run_in_worker(func, *args, **kwargs)

    @functools.wraps(original_connect)
    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn: sqlite3.Connection = original_connect(*args, **kwargs)
        conn.set_trace_callback(functools.partial(COUNTER.trace, id(conn)))
        return conn

    anyio.to_thread.run_sync = run_sync  # type: ignore[assignment]
    hop.run_in_worker = run_in_worker
    setattr(sqlite_store, "connect", connect)  # noqa: B010
    try:
        yield
    finally:
        anyio.to_thread.run_sync = original_run_sync
        hop.run_in_worker = original_run_in_worker
        setattr(sqlite_store, "connect", original_connect)  # noqa: B010


def code(index: int, offset: int = 0) -> str:
    return totp(secret_for(index), int(time.time()) + offset * PERIOD, period=PERIOD)


async def measure(
    name: str, send: Callable[[int], Awaitable[httpx.Response]], rows: list[list[object]], base: int
) -> None:
    """Warm up on credential `base`, measure on `base + 1`: both see an accepted code."""
    await send(base)
    COUNTER.reset()
    status = (await send(base + 1)).status_code
    rows.append([name, status, COUNTER.hops, COUNTER.statements, COUNTER.round_trips])
    _show(name)


def _show(name: str) -> None:
    if "--sql" in sys.argv:
        print(f"{name}:", *(f"  {sql}" for sql in COUNTER.seen), sep="\n")


def radius_row(app: Starlette, rows: list[list[object]]) -> None:
    from pyrad import packet
    from pyrad.dictionary import Dictionary

    from otpd.core.nas import NasClient
    from otpd.radius import codec
    from otpd.radius.gate import gate_for
    from otpd.radius.handler import Handler

    runtime = app.state.runtime
    gate = gate_for(runtime)
    secret = gate.create_nas(NasClient(TENANT, "nas", ("127.0.0.0/8",), b""))[1]
    handler = Handler(gate)
    dictionary = Dictionary(str(Path(sqlite_store.__file__).parents[1] / "radius/dictionary"))

    def send(index: int) -> str:
        request = packet.AuthPacket(
            code=packet.AccessRequest, secret=secret.encode(), dict=dictionary
        )
        request["User-Name"] = cred_name(index)
        request["User-Password"] = request.PwCrypt(code(index))
        request.add_message_authenticator()
        answer = handler(codec.parse(request.RequestPacket()), ("127.0.0.1", 1812))
        return "no answer" if answer is None else str(answer[0])

    send(14)  # warm-up on another credential (a code is accepted once)
    COUNTER.reset()
    status = send(15)
    rows.append(["RADIUS Access-Request", status, 1, COUNTER.statements, COUNTER.round_trips])
    _show("RADIUS Access-Request")


async def run(data_dir: Path, key: str) -> list[list[object]]:
    app = create_app(load_settings(environ={"OTPD_DATA_DIR": str(data_dir)}))
    rows: list[list[object]] = []
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://otpd") as client,
    ):
        login = await client.post("/v1/login", json={"username": "all", "password": key})
        bearer = {"Authorization": f"Bearer {login.json()['token']}"}
        basic = base64.b64encode(f"all:{key}".encode()).decode()
        phenix = {"tenant": TENANT, "Authorization": f"Basic {basic}"}

        def state(index: int) -> str:
            return "/v1/state/strongbox/totp/" + cred_name(index)

        async def validate(i: int) -> httpx.Response:
            query = {"api_key": key, "userid": str(i), "token": code(i)}
            return await client.get("/validate", params=query)

        async def token_auth(i: int) -> httpx.Response:
            body = {"username": cred_name(i), "otp": code(i)}
            path = "/api/authentication/otp_token_auth"
            return await client.put(path, json=body, headers=phenix)

        async def verify_code(i: int) -> httpx.Response:
            body = {"code": code(i)}
            return await client.post(state(i) + "/verify-code", json=body, headers=bearer)

        async def get_state(i: int) -> httpx.Response:
            return await client.get(state(i), headers=bearer)

        async def put_config(i: int) -> httpx.Response:
            path = "/v1/config/strongbox/totp/" + cred_name(i)
            return await client.put(path, json={"name": cred_name(i)}, headers=bearer)

        async def get_qr_code(i: int) -> httpx.Response:
            return await client.post(state(i) + "/get-qr-code", headers=bearer)

        async def refresh(i: int) -> httpx.Response:  # the login's token, renewed
            return await client.post("/v1/state/strongbox/token/refresh", headers=bearer)

        sends = [
            ("Token2 GET /validate", validate),
            ("PhenixID PUT otp_token_auth", token_auth),
            ("Strongbox verify-code", verify_code),
            ("Strongbox GET state", get_state),
            ("Strongbox PUT config", put_config),
            ("Strongbox get-qr-code", get_qr_code),
            ("Strongbox token refresh", refresh),
        ]
        for number, (name, send) in enumerate(sends):
            await measure(name, send, rows, 1 + 2 * number)
        radius_row(app, rows)
    return rows


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, instrumented():
        data_dir = Path(tmp) / "data"
        populate(data_dir, 16)
        scopes = [Scope.READ, Scope.WRITE, Scope.VERIFY, Scope.CODE, Scope.REVEAL]
        key = add_client(data_dir, "all", scopes)
        rows = anyio.run(run, data_dir, key)
    print_table(["request", "status", "thread hops", "SQL statements", "round trips"], rows)


if __name__ == "__main__":
    main()
