"""POST /v1/state/strongbox/system/export: a tenant's credentials as encrypted PSKC (or, when
asked for in so many words, otpauth URIs) for an API client with scope reveal (issue #17,
docs/migrate.md). The password travels in the body, never in the URL; the key is checked
before the costly PBKDF2 runs, and that runs off the event loop."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otpd.api.common import bearer_token, errors_response, read_json_object
from otpd.core.access import KEY_LENGTH
from otpd.core.bulk import BulkService
from otpd.core.errors import Forbidden, InvalidInput, Sealed, Unauthenticated
from otpd.core.model import Principal
from otpd.core.service import CredentialService
from otpd.transfer.exporter import to_otpauth, to_pskc

__all__ = ["ROUTES"]

PATH = "/v1/state/strongbox/system/export"
_NO_STORE = {"Cache-Control": "no-store"}


async def export(request: Request) -> Response:
    service: CredentialService = request.app.state.runtime.service
    try:
        principal = _principal(service, bearer_token(request))
        body = await read_json_object(request)
        fmt, password, select = _options(body)
        items = await run_in_threadpool(BulkService(service).export, principal, select)
    except Unauthenticated:
        return errors_response(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    except Forbidden:
        return errors_response(403, "scope reveal required")
    except InvalidInput as error:
        return errors_response(400, f"invalid request: {error}")
    except Sealed:
        return errors_response(503, "sealed")
    if fmt == "otpauth":
        return Response(to_otpauth(items), media_type="text/plain", headers=_NO_STORE)
    try:
        document = await run_in_threadpool(to_pskc, items, password)
    except InvalidInput as error:
        return errors_response(400, f"invalid request: {error}")
    # RFC 6030 §12.1 registers application/pskc+xml.
    return Response(document, media_type="application/pskc+xml", headers=_NO_STORE)


def _principal(service: CredentialService, token: str | None) -> Principal:
    if token is None:
        raise Unauthenticated("no bearer")
    if len(token) == KEY_LENGTH:
        return service.authenticate(token)
    return service.authenticate_token(token)


def _options(body: dict[str, object]) -> tuple[str, str, str | None]:
    fmt = body.get("format", "pskc")
    if fmt not in ("pskc", "otpauth"):
        raise InvalidInput("format", "must be pskc or otpauth")
    if fmt == "otpauth" and body.get("insecure-plaintext") is not True:
        raise InvalidInput("insecure-plaintext", "must be true for plaintext otpauth URIs")
    password = body.get("password", "")
    if not isinstance(password, str) or (fmt == "pskc" and not password):
        raise InvalidInput("password", "must be a string (the PSKC password)")
    select = body.get("select")
    if select is not None and (not isinstance(select, str) or len(select) > 128):
        raise InvalidInput("select", "must be a name glob of up to 128 characters")
    return str(fmt), password, select


ROUTES = [Route(PATH, export, methods=["POST"])]
