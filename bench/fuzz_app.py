"""The `app` target of bench/fuzz.py: whole requests through the real ASGI app, in process.

The app is the one `otpd serve` runs (create_app), on a fresh data directory in embedded mode,
its lifespan entered once; an API client of tenant `acme` (all scopes) and a credential `alice`
exist, so inputs reach past authentication. Each input picks a method, a path, an
Authorization kind, a tenant header and a Content-Type, then gives raw query bytes and a body.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import atheris

from otpd.cli import main as otpd_cli
from otpd.settings import Settings
from otpd.web.app import create_app

__all__ = ["app_target"]

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
PATHS = [
    "/v1/config/strongbox/totp",
    "/v1/config/strongbox/totp/alice",
    "/v1/state/strongbox/totp/alice",
    "/v1/state/strongbox/totp/alice/verify-code",
    "/v1/login",
    "/validate",
    "/createuser",
    "/api.php",
    "/api/authentication/otp_token_auth",
    "/v1/state/strongbox/system/unseal",
    "/v1/state/strongbox/token/refresh",
    "/v1/state/strongbox/totp/alice/get-qr-code",
    "/qr/0123456789abcdef0123456789abcdef.png",
    "/v1/config/strongbox/totp/",  # followed by a fuzzed name
]
TYPES = [
    b"application/json",
    b"application/yaml",
    b"application/json-patch+json",
    b"application/x-www-form-urlencoded",
    b"text/plain",
    b"",
]


_QUERY_OK = [0x21 <= b <= 0x7E and b != 0x23 for b in range(256)]


class Sink(Protocol):
    def add(self, key: str, data: bytes) -> None: ...


class Driver:
    """Calls the ASGI app directly with a scope built from the input: raw bytes reach it as
    they would from the HTTP parser (the path as text, the query string as bytes)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, app: Any) -> None:
        self.loop = loop
        self.app = app
        self.lifespan: contextlib.AsyncExitStack | None = None

    def request(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._call(method, path, query, headers, body))

    async def _call(
        self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode("utf-8", "surrogateescape"),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"otpd"), *headers],
            "client": ("127.0.0.1", 40000),
            "server": ("otpd", 80),
        }
        sent = False
        status, chunks = 0, []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.sleep(0)
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


def _client_key(data_dir: Path) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        argv = ["client", "create", "--tenant", "acme", "--name", "admin", "--json"]
        argv += ["--scopes", "read,write,verify,code,reveal", "--data-dir", str(data_dir)]
        assert otpd_cli(argv) == 0
    key: str = json.loads(out.getvalue())["key"]
    return key


def app_target(loop: asyncio.AbstractEventLoop, sink: Sink) -> Callable[[bytes], None]:
    data_dir = Path(tempfile.mkdtemp(prefix="otpd-fuzz-app-")) / "data"
    key = _client_key(data_dir)
    app = create_app(replace(Settings(), data_dir=data_dir, log_level="error"))
    stack = contextlib.AsyncExitStack()
    loop.run_until_complete(stack.enter_async_context(app.router.lifespan_context(app)))
    driver = Driver(loop, app)
    driver.lifespan = stack  # held for the whole run: collecting it would close the store
    json_type = [(b"content-type", b"application/json")]
    login = json.dumps({"username": "admin", "password": key}).encode()
    status, body = driver.request("POST", "/v1/login", b"", json_type, login)
    assert status == 200, body
    bearer = b"Bearer " + json.loads(body)["token"].encode()
    made = driver.request(
        "POST",
        "/v1/config/strongbox/totp",
        b"",
        [*json_type, (b"authorization", bearer)],
        b'{"name": "alice"}',
    )
    assert made[0] == 201, made
    basic = b"Basic " + base64.b64encode(f"admin:{key}".encode())
    auths = [bearer, basic, b"", None]
    key_param = f"api_key={key}&".encode()

    def one(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        method = fdp.PickValueInList(METHODS)
        path = fdp.PickValueInList(PATHS)
        auth = fdp.PickValueInList(auths)
        content_type = fdp.PickValueInList(TYPES)
        if path.endswith("/"):
            path += fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(1, 40))
        # The bytes httptools lets through in a request target: visible ASCII, no '#' (it
        # answers 400 to anything else before otpd sees the request).
        query = bytes(b for b in fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 120)) if _QUERY_OK[b])
        if fdp.ConsumeBool():
            query = key_param + query
        headers = [(b"tenant", b"acme")] if fdp.ConsumeBool() else []
        if auth is None:
            auth = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80)).translate(None, b"\r\n\x00")
        if auth:
            headers.append((b"authorization", auth))
        if content_type:
            headers.append((b"content-type", content_type))
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        status, answer = driver.request(method, path, query, headers, body)
        if status >= 500 or status == 0:
            message = re.sub(rb"request id [0-9a-f]+", b"request id ...", answer[:120])
            sink.add(f"HTTP {status} on {method} /{path.split('/')[1]}/...: {message!r}", data)

    return one
