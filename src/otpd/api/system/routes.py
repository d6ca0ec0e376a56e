"""POST /v1/state/strongbox/system/unseal and .../seal, GET .../seal-status.

Unsealing needs no bearer (as in Vault, the shares are the authority); sealing needs an API
client of the `system` tenant with scope `seal`, sent as `Authorization: Bearer <key>`.
Each request makes its one worker hop (api.common.one_hop): combining a Shamir share and
sealing touch the store and the key, which the event loop must not wait on.
"""

from __future__ import annotations

from typing import Any

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otpd.api.common import ApiRuntime, bearer_token, one_hop, parse_json_object, runtime_of
from otpd.api.system import export
from otpd.core.errors import InvalidInput
from otpd.core.model import Scope, SealStatus
from otpd.core.seal_service import SealService

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/v1/state/strongbox/system"


def _status_body(status: SealStatus) -> dict[str, object]:
    return {"sealed": status.sealed, "progress": status.progress, "threshold": status.threshold}


def _share_holder_body(status: SealStatus) -> dict[str, object]:
    """The answer to a share submitter: the status plus, while a ceremony is in progress, its
    nonce (as Vault's unseal response), which a reset must carry. seal-status never shows it."""
    body = _status_body(status)
    if status.sealed and status.progress and status.nonce:
        body["nonce"] = status.nonce
    return body


def _unseal(sealing: SealService, raw: bytes) -> dict[str, Any]:
    body = parse_json_object(raw)
    if body.get("reset") is True:
        nonce = body.get("nonce")
        if not isinstance(nonce, str):
            raise InvalidInput("nonce", "a reset must carry the nonce of the unseal")
        return _status_body(sealing.reset_unseal(nonce))
    if not isinstance(body.get("share"), str):
        raise InvalidInput("share", "must be a string (or send reset: true with the nonce)")
    return _share_holder_body(sealing.submit_unseal_share(body["share"]))


def _seal(runtime: ApiRuntime, token: str | None) -> dict[str, Any]:
    principal = runtime.access.authenticate_bearer(token, Scope.SEAL)
    return _status_body(runtime.sealing.seal(principal))


class Unseal(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        raw = await request.body()
        return JSONResponse(await one_hop(request, _unseal, runtime_of(request).sealing, raw))


class Seal(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        token = bearer_token(request.headers)
        return JSONResponse(await one_hop(request, _seal, runtime_of(request), token))


class SealStatusEndpoint(HTTPEndpoint):
    async def get(self, request: Request) -> Response:
        # No hop: the seal state is in memory (crypto.SealManager), no store read.
        return JSONResponse(_status_body(runtime_of(request).sealing.seal_status()))


ROUTES = [
    Route(f"{PREFIX}/unseal", Unseal),
    Route(f"{PREFIX}/seal", Seal),
    Route(f"{PREFIX}/seal-status", SealStatusEndpoint),
    *export.ROUTES,  # issue #17: encrypted export for scope reveal
]
