"""POST /v1/login and POST /v1/state/strongbox/token/refresh (docs/requirements.md#model,
docs/api-strongbox.md).

Both answer `200 OK`: avassa-client compares the reason phrase with "OK".
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.common import bearer_token, one_hop, runtime_of
from otpd.api.strongbox.context import Config, RawBody, reply
from otpd.api.strongbox.parse import parse_duration
from otpd.api.strongbox.render import iso_time
from otpd.core.access_service import AccessService
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


def _login(access: AccessService, body: RawBody) -> dict[str, Any]:
    value = body.parse().value
    if not isinstance(value, dict):
        raise InvalidInput("body", "must be an object")
    issued = access.login(value.get("username"), value.get("password"), value.get("tenant"))
    return _token_body(issued, issued.record.created_at_us)


async def login(request: Request, config: Config) -> Response:
    """Client name and key (and optionally the tenant) -> a bearer token. Missing or
    non-string fields are a failed login (401), like a wrong key."""
    body = await RawBody.read(request)
    return reply(request, await one_hop(request, _login, runtime_of(request).access, body))


def _refresh(access: AccessService, token: str | None, body: RawBody) -> dict[str, Any]:
    def increment() -> int | None:
        # Read once the token is known good: an outsider's body is never parsed.
        parsed = body.parse(required=False)
        if parsed.present and not isinstance(parsed.value, dict):
            raise InvalidInput("body", "must be an object")
        if parsed.present and parsed.value.get("increment") is not None:
            return parse_duration(parsed.value["increment"], "increment")
        return None

    issued = access.refresh_token(token, increment)
    return _token_body(issued, issued.record.renewed_at_us)


async def refresh(request: Request, config: Config) -> Response:
    """Reset the token's TTL from now. avassa-client sends no body; `{"increment": "15m"}`
    asks for a shorter TTL (never longer than the configured one)."""
    token = bearer_token(request.headers)
    body = await RawBody.read(request)
    return reply(request, await one_hop(request, _refresh, runtime_of(request).access, token, body))
