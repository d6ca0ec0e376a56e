"""POST /v1/login and POST /v1/state/strongbox/token/refresh (NOTES.md §2, CLIENTS.md §3.2).

Both answer `200 OK`: avassa-client compares the reason phrase with "OK".
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.strongbox.context import bearer, call, endpoint, reply, service
from otpd.api.strongbox.parse import parse_duration, read_body
from otpd.api.strongbox.render import iso_time
from otpd.core.errors import InvalidInput
from otpd.core.tokens import IssuedToken

__all__ = ["login", "refresh"]


def _token_body(issued: IssuedToken, now_us: int) -> dict[str, Any]:
    record = issued.record
    return {
        "token": issued.token,
        "expires-in": max(0, (record.expires_at_us - now_us) // 1_000_000),
        "expires": iso_time(record.expires_at_us),
        "accessor": record.accessor,
        "creation-time": iso_time(record.created_at_us),
        "renewal-time": iso_time(record.renewed_at_us),
    }


@endpoint
async def login(request: Request) -> Response:
    """Client name and key (and optionally the tenant) -> a bearer token. Missing or
    non-string fields are a failed login (401), like a wrong key."""
    body = (await read_body(request)).value
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be an object")
    issued = await call(
        service(request).login, body.get("username"), body.get("password"), body.get("tenant")
    )
    return reply(request, _token_body(issued, issued.record.created_at_us))


@endpoint
async def refresh(request: Request) -> Response:
    """Reset the token's TTL from now. avassa-client sends no body; `{"increment": "15m"}`
    asks for a shorter TTL (never longer than the configured one)."""
    token = bearer(request)
    # The token first: an outsider's body is never read, let alone parsed.
    await call(service(request).authenticate_token, token)
    body = await read_body(request, required=False)
    if body.present and not isinstance(body.value, dict):
        raise InvalidInput("body", "must be an object")
    increment = None
    if body.present and body.value.get("increment") is not None:
        increment = parse_duration(body.value["increment"], "increment")
    issued = await call(service(request).refresh_token, token, increment)
    return reply(request, _token_body(issued, issued.record.renewed_at_us))
