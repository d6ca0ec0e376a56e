"""POST /v1/state/strongbox/system/unseal and .../seal.

Unsealing needs no bearer (as in Vault, the shares are the authority); sealing needs an API
client of the `system` tenant with scope `seal`, sent as `Authorization: Bearer <key>`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otpd.api.common import bearer_token, errors_response, read_json_object
from otpd.api.system import export
from otpd.core.access import KEY_LENGTH
from otpd.core.errors import Forbidden, InvalidInput, InvalidShare, Unauthenticated
from otpd.core.model import SealStatus
from otpd.core.service import CredentialService

__all__ = ["ROUTES"]

PREFIX = "/v1/state/strongbox/system"


def _service(request: Request) -> CredentialService:
    service: CredentialService = request.app.state.runtime.service
    return service


def _status_body(status: SealStatus) -> dict[str, object]:
    return {"sealed": status.sealed, "progress": status.progress, "threshold": status.threshold}


def _share_holder_body(status: SealStatus) -> dict[str, object]:
    """The answer to a share submitter: the status plus, while a ceremony is in progress, its
    nonce (as Vault's unseal response), which a reset must carry. seal-status never shows it."""
    body = _status_body(status)
    if status.sealed and status.progress and status.nonce:
        body["nonce"] = status.nonce
    return body


async def unseal(request: Request) -> Response:
    try:
        body = await read_json_object(request)
        if body.get("reset") is True:
            nonce = body.get("nonce")
            if not isinstance(nonce, str):
                raise InvalidInput("nonce", "a reset must carry the nonce of the unseal")
            return JSONResponse(_status_body(_service(request).reset_unseal(nonce)))
        if not isinstance(body.get("share"), str):
            raise InvalidInput("share", "must be a string (or send reset: true with the nonce)")
        status = _service(request).submit_unseal_share(body["share"])
    except (InvalidInput, InvalidShare) as error:
        return errors_response(400, f"invalid request: {error}")
    return JSONResponse(_share_holder_body(status))


async def seal(request: Request) -> Response:
    service = _service(request)
    token = bearer_token(request)
    try:
        if token is None:
            raise Unauthenticated("no bearer")
        # An API key (40 characters, as `otpd seal --key` sends) or a Strongbox login token.
        if len(token) == KEY_LENGTH:
            principal = service.authenticate(token)
        else:
            principal = service.authenticate_token(token)
        status = service.seal(principal)
    except Unauthenticated:
        return errors_response(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    except Forbidden:
        return errors_response(403, "scope seal required")
    return JSONResponse(_status_body(status))


async def seal_status(request: Request) -> Response:
    return JSONResponse(_status_body(_service(request).seal_status()))


ROUTES = [
    Route(f"{PREFIX}/unseal", unseal, methods=["POST"]),
    Route(f"{PREFIX}/seal", seal, methods=["POST"]),
    Route(f"{PREFIX}/seal-status", seal_status, methods=["GET"]),
    *export.ROUTES,  # issue #17: encrypted export for scope reveal
]
