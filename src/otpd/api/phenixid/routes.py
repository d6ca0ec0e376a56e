"""`PUT /api/authentication/<operation>` (and with a trailing slash): PhenixID's HTTP API.

Every operation path comes to one dispatcher, so every path takes the same steps in the same
order and none skips authentication (R60, T67):

  1. method: anything but PUT -> 405 with `Allow: PUT` (OPTIONS, HEAD and TRACE too)
  2. caller: the `tenant` header's tenant decides how its callers authenticate, and whether
     the operation is allowed (core.tenants.admit) -> 401 / 403
  3. request: Content-Type application/json and the body -> 400
  4. one service call; the outcome is the status: 200 accepted, 403 anything else

Authentication comes before the body is parsed, so an unauthenticated caller learns nothing
about the body rules (401/403 before 400). Steps 2-4 run in one worker thread: the store may
fsync (synchronous=FULL), and one hop costs less than two.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from otpd.api.phenixid.auth import caller_of
from otpd.api.phenixid.errors import error_response, status_response
from otpd.api.phenixid.parse import parse_token_auth, tenant_header
from otpd.core.errors import OtpdError
from otpd.core.service import CredentialService
from otpd.core.tenants import Caller

__all__ = ["PREFIX", "ROUTES"]

PREFIX = "/api/authentication/"
ALLOW = {"Allow": "PUT"}


def _token_auth(
    service: CredentialService,
    tenant: str | None,
    caller: Caller,
    operation: str,
    content_type: str | None,
    body: bytes,
) -> bool:
    """Steps 2-4. True when the code is accepted; raises a domain error otherwise. No `tenant`
    header, or more than one, is an unknown tenant ("" is no tenant id)."""
    principal = service.admit_caller(tenant or "", caller, operation)
    command = parse_token_auth(content_type, body)
    return service.verify(principal, command.username, command.otp).accepted


async def _respond(request: Request) -> Response:
    if request.method != "PUT":
        return status_response(405, ALLOW)
    runtime = request.app.state.runtime
    headers = request.headers
    caller = caller_of(request.scope, headers, runtime.settings)
    body = await request.body()
    try:
        accepted = await run_in_threadpool(
            _token_auth,
            runtime.service,
            tenant_header(headers),
            caller,
            request.path_params["operation"],
            headers.get("content-type"),
            body,
        )
    except OtpdError as error:
        return error_response(error)
    return status_response(200 if accepted else 403)


class _Dispatch:
    """An ASGI app (not a function), so Starlette routes every method here, not only GET."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await _respond(Request(scope, receive))
        await response(scope, receive, send)


ROUTES: list[BaseRoute] = [
    Route(PREFIX + "{operation}", _Dispatch()),
    Route(PREFIX + "{operation}/", _Dispatch()),
]
