"""The TOTP operations, POSTs under /v1/state/strongbox/totp/{name}/ (NOTES.md §5):
get-code (scope code), get-qr-code (scope reveal: the url holds the secret) and verify-code
(scope verify). Each answers 200 OK with a body.
"""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.strongbox.context import call, endpoint, path_name, principal, reply, service
from otpd.api.strongbox.parse import read_body
from otpd.core.errors import InvalidInput
from otpd.core.model import Scope
from otpd.qr import png_bytes

__all__ = ["get_code", "get_qr_code", "verify_code"]


@endpoint
async def get_code(request: Request) -> Response:
    caller = await principal(request, Scope.CODE)
    code = await call(service(request).current_code, caller, path_name(request))
    return reply(request, {"code": code})


def _qr(url: str) -> str:
    return base64.b64encode(png_bytes(url)).decode("ascii")


@endpoint
async def get_qr_code(request: Request) -> Response:
    caller = await principal(request, Scope.REVEAL)
    url = await call(service(request).key_uri, caller, path_name(request))
    return reply(request, {"qr-code": await call(_qr, url), "url": url})


@endpoint
async def verify_code(request: Request) -> Response:
    """{"code": "..."} -> {"valid": true|false}. Wrong, replayed and throttled codes all
    answer the same {"valid": false} (R35); a missing or non-string code is 400."""
    caller = await principal(request, Scope.VERIFY)
    body = (await read_body(request)).value
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        raise InvalidInput("code", "is required and must be a string")
    result = await call(
        service(request).verify, caller, path_name(request), body["code"], missing_is_error=True
    )
    return reply(request, {"valid": result.accepted})
