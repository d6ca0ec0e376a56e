"""Helpers shared by the adapters: the Strongbox-style error body and small request readers."""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from otpd.core.errors import InvalidInput

__all__ = [
    "bearer_token",
    "errors_response",
    "no_duplicate_keys",
    "parse_json_object",
    "read_json_object",
]


def errors_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Avassa's error body; `error-info` is always present (the Rust client needs it)."""
    body = {"errors": [{"error-message": message, "error-info": {}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # One documented rule for duplicate JSON keys in every adapter (R45, T18): refuse them.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput("body", "repeats a key")
        result[key] = value
    return result


async def read_json_object(request: Request) -> dict[str, Any]:
    # In a worker thread, as every body is parsed: parsing is CPU the event loop must not wait on.
    return await run_in_threadpool(parse_json_object, await request.body())


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from a request body, by the one rule of every adapter (no duplicate keys)."""
    try:
        value = json.loads(raw, object_pairs_hook=no_duplicate_keys) if raw else None
    except (ValueError, RecursionError):
        raise InvalidInput("body", "must be a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidInput("body", "must be a JSON object")
    return value


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
