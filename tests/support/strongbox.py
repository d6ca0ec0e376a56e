"""Small helpers for the Strongbox tests: secrets (always registered), paths, error checks."""

from __future__ import annotations

import base64
import os
from typing import Any

import httpx
from tests.support import server as harness
from tests.support.clients import Sb

CONFIG = "/v1/config/strongbox/totp"
STATE = "/v1/state/strongbox/totp"
# The request sample of the vendor page (https://avassa-api.redoc.ly/tag/TOTP).
SAMPLE_YAML = """\
name: admin
digits: 6
algorithm: sha1
key-size: 20
period: 30s
issuer: telco.com
account-name: admin@telco.com
skew: 1
passcode32: 34XVZAVKQ7PRBE3KJQWHYKC3EAT75I2X
"""
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    503: "Service Unavailable",
}


def secret(size: int = 20) -> bytes:
    """A fresh random secret, registered so the session can prove it never reached a log."""
    raw = os.urandom(size)
    harness.register_secret(raw)
    return raw


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def register_b32(text: str) -> bytes:
    """Register a secret the server generated (read back with scope reveal)."""
    raw = unb32(text)
    harness.register_secret(raw)
    return raw


def body(name: str, raw: bytes | None = None, **fields: Any) -> dict[str, Any]:
    """A create body; with a registered random secret unless `raw` or passcode32 is given."""
    fields = {key.replace("_", "-"): value for key, value in fields.items()}
    fields.setdefault("passcode32", b32(raw if raw is not None else secret()))
    return {"name": name, **fields}


def assert_status(response: httpx.Response, status: int) -> None:
    """The status, its standard reason phrase and, for errors, the Strongbox errors body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.reason_phrase == REASONS[status]
    if status >= 400 and response.request.method != "HEAD":
        assert_errors_body(response)


def assert_errors_body(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert list(payload) == ["errors"] and len(payload["errors"]) == 1
    error = payload["errors"][0]
    assert set(error) == {"error-message", "error-info"}
    assert isinstance(error["error-message"], str) and error["error-message"]
    assert error["error-info"] == {}


def message(response: httpx.Response) -> str:
    text: str = response.json()["errors"][0]["error-message"]
    return text


def get(sb: Sb, path: str, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    """GET with the session's bearer and extra headers (Sb.get takes no headers)."""
    return sb.http.get(path, headers={**sb.auth, **(headers or {})}, **kwargs)
