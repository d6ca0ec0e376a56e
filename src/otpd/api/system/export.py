"""POST /v1/state/strongbox/system/export: a tenant's credentials as encrypted PSKC (or, when
asked for in so many words, otpauth URIs) for an API client with scope reveal (issue #17,
docs/migrate.md). The password travels in the body, never in the URL; the key is checked
before the costly PBKDF2 runs, and that runs off the event loop."""

from __future__ import annotations

from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otpd.api.common import ApiRuntime, bearer_token, one_hop, parse_json_object, runtime_of
from otpd.core.errors import InvalidInput
from otpd.core.model import Scope
from otpd.transfer.exporter import to_otpauth, to_pskc

__all__ = ["ROUTES"]

PATH = "/v1/state/strongbox/system/export"
_NO_STORE = {"Cache-Control": "no-store"}


def _export(runtime: ApiRuntime, token: str | None, raw: bytes) -> Response:
    """In the request's one worker hop: the key and its scope first (so an outsider never
    reaches the PBKDF2, and a caller without scope reveal gets 403 before any body rule:
    docs/design.md#request-flow), then the body, the store's records and the PSKC document."""
    principal = runtime.access.authenticate_bearer(token, Scope.REVEAL)
    fmt, password, select = _options(parse_json_object(raw))
    items = runtime.bulk.export(principal, select)
    if fmt == "otpauth":
        return Response(to_otpauth(items), media_type="text/plain", headers=_NO_STORE)
    # RFC 6030 §12.1 registers application/pskc+xml.
    document = to_pskc(items, password)
    return Response(document, media_type="application/pskc+xml", headers=_NO_STORE)


class Export(HTTPEndpoint):
    async def post(self, request: Request) -> Response:
        token = bearer_token(request.headers)
        raw = await request.body()
        return await one_hop(request, _export, runtime_of(request), token, raw)


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


ROUTES = [Route(PATH, Export)]
