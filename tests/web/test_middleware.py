"""The middleware in-process (an ASGI client: a pure-ASGI layer's unit test needs no server):
the last-resort handler, request ids and the body cap around a deliberately failing route."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from otpd.web.middleware import (
    AccessLog,
    BodyCap,
    LastResort,
    RequestId,
    SealedGate,
    redact_path,
)

SECRET_TEXT = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def boom(request: Request) -> Response:
    raise RuntimeError(f"database said: secret={SECRET_TEXT}")


async def echo(request: Request) -> Response:
    return JSONResponse({"size": len(await request.body())})


def render(status: int, message: str, scope: Scope) -> Response:
    return JSONResponse({"errors": [{"error-message": message, "error-info": {}}]}, status)


def app(sealed: bool = False) -> Starlette:
    """Built the way otpd.web.app builds the real one: our middleware inside Starlette's."""
    return Starlette(
        routes=[Route("/v1/boom", boom), Route("/v1/echo", echo, methods=["POST"])],
        middleware=[  # the order of otpd.web.app.create_app
            Middleware(RequestId, trusted_proxies=(), api_of=lambda path: "test"),
            Middleware(AccessLog),
            Middleware(LastResort, render_error=render),
            Middleware(BodyCap, render_error=render, max_body_bytes=100),
            Middleware(
                SealedGate,
                render_error=render,
                is_sealed=lambda: sealed,
                sealed_gate=lambda path: path.startswith("/v1/"),
            ),
        ],
    )


@pytest.fixture
def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app()), base_url="http://t")


@pytest.mark.anyio
async def test_last_resort_never_echoes_exception_text(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    response = await client.get("/v1/boom")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    message = response.json()["errors"][0]["error-message"]
    assert request_id in message
    assert SECRET_TEXT not in response.text and "database" not in response.text
    assert any(
        "unhandled error" in r.getMessage() and request_id in r.getMessage() for r in caplog.records
    )


@pytest.mark.anyio
async def test_body_cap(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/echo", content=b"x" * 100)).json() == {"size": 100}
    assert (await client.post("/v1/echo", content=b"x" * 101)).status_code == 413

    async def stream():  # no Content-Length
        for _ in range(10):
            yield b"y" * 20

    assert (await client.post("/v1/echo", content=stream())).status_code == 413


@pytest.mark.anyio
async def test_sealed_gate() -> None:
    sealed = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app(sealed=True)), base_url="http://t"
    )
    response = await sealed.get("/v1/boom")
    assert response.status_code == 503


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/healthz", "/healthz"),
        ("/qr/0123456789abcdef.png", "/qr/<redacted>"),
        ("/v1/a\nb", "/v1/a\\x0ab"),
        ("/v1/a b", "/v1/a\\x20b"),
        ("/v1/\x1b[31m", "/v1/\\x1b[31m"),
    ],
)
def test_redact_path(path: str, logged: str) -> None:
    assert redact_path(path) == logged


@pytest.mark.anyio
async def test_header_caps(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/echo", headers={"X-Big": "a" * 30_000})).status_code == 200
    big = await client.post("/v1/echo", headers={"X-Big": "a" * 40_000})
    assert big.status_code == 431
    assert big.json()["errors"][0]["error-message"] == "request headers too large"
    many = {f"X-H{i}": "1" for i in range(120)}
    assert (await client.post("/v1/echo", headers=many)).status_code == 431
