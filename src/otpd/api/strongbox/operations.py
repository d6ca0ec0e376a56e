"""The TOTP operations, POSTs under /v1/state/strongbox/totp/{name}/ (docs/api-strongbox.md):
get-code (scope code), get-qr-code (scope reveal: the url holds the secret) and verify-code
(scope verify). Each answers 200 OK with a body, after one worker hop.
"""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.common import ApiRuntime, bearer_token, one_hop, runtime_of
from otpd.api.strongbox.context import Config, RawBody, path_name, reply
from otpd.core.errors import InvalidInput, NotFound
from otpd.core.model import Outcome, Scope
from otpd.qr import png_bytes

__all__ = ["get_code", "get_qr_code", "verify_code"]


def _code(runtime: ApiRuntime, token: str | None, name: str) -> str:
    return runtime.credentials.current_code(
        runtime.access.authenticate_token(token, Scope.CODE), name
    )


async def get_code(request: Request, config: Config) -> Response:
    token, name = bearer_token(request.headers), path_name(request)
    code = await one_hop(request, _code, runtime_of(request), token, name)
    return reply(request, {"code": code})


def _qr(runtime: ApiRuntime, token: str | None, name: str) -> dict[str, str]:
    url = runtime.credentials.key_uri(runtime.access.authenticate_token(token, Scope.REVEAL), name)
    return {"qr-code": base64.b64encode(png_bytes(url)).decode("ascii"), "url": url}


async def get_qr_code(request: Request, config: Config) -> Response:
    token, name = bearer_token(request.headers), path_name(request)
    return reply(request, await one_hop(request, _qr, runtime_of(request), token, name))


def _verify(runtime: ApiRuntime, token: str | None, name: str, body: RawBody) -> bool:
    caller = runtime.access.authenticate_token(token, Scope.VERIFY)
    value = body.parse().value
    if not isinstance(value, dict) or not isinstance(value.get("code"), str):
        raise InvalidInput("code", "is required and must be a string")
    result = runtime.credentials.verify(caller, name, value["code"])
    if result.outcome is Outcome.UNKNOWN:  # the vendor page lists 404 (requirements.md#no-oracle)
        raise NotFound("no such credential")
    return result.accepted


async def verify_code(request: Request, config: Config) -> Response:
    """{"code": "..."} -> {"valid": true|false}. Wrong, replayed and throttled codes all
    answer the same {"valid": false} (docs/requirements.md#no-oracle); a missing or non-string code
    is 400."""
    token, name = bearer_token(request.headers), path_name(request)
    body = await RawBody.read(request)
    valid = await one_hop(request, _verify, runtime_of(request), token, name, body)
    return reply(request, {"valid": valid})
