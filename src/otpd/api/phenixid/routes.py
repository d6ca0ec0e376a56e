"""`PUT /api/authentication/<operation>` (and with a trailing slash): PhenixID's HTTP API.

Every operation path comes to one dispatcher, so every path takes the same steps in the same
order and none skips authentication (docs/requirements.md#least-privilege):

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

from typing import ClassVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from otpd.api.common import ApiRuntime, Endpoint, media_type, one_hop, runtime_of
from otpd.api.phenixid.auth import CertSource, caller_of
from otpd.api.phenixid.errors import status_response
from otpd.api.phenixid.parse import parse_token_auth, tenant_header
from otpd.core.tenants import Caller

__all__ = ["PREFIX", "routes"]

PREFIX = "/api/authentication/"
ALLOW = {"Allow": "PUT"}


def _token_auth(
    runtime: ApiRuntime,
    tenant: str | None,
    caller: Caller,
    operation: str,
    media: str,
    body: bytes,
) -> bool:
    """Steps 2-4. True when the code is accepted; raises a domain error otherwise. No `tenant`
    header, or more than one, is an unknown tenant ("" is no tenant id)."""
    principal = runtime.access.admit_caller(tenant or "", caller, operation)
    command = parse_token_auth(media, body)
    return runtime.credentials.verify(principal, command.username, command.otp).accepted


class TokenAuth(Endpoint):
    """Step 1 is Starlette's: PUT is the only method defined, so every other one (HEAD and
    OPTIONS included) reaches method_not_allowed."""

    source: ClassVar[CertSource] = CertSource()

    async def put(self, request: Request) -> Response:
        headers = request.headers
        caller = caller_of(request.scope, headers, self.source)
        body = await request.body()
        accepted = await one_hop(
            request,
            _token_auth,
            runtime_of(request),
            tenant_header(headers),
            caller,
            request.path_params["operation"],
            media_type(headers),
            body,
        )
        return status_response(200 if accepted else 403)

    async def method_not_allowed(self, request: Request) -> Response:
        return status_response(405, ALLOW)


def routes(
    *, trusted_proxies: tuple[str, ...] = (), client_cert_header: str = "X-SSL-Client-S-DN"
) -> list[BaseRoute]:
    """The PhenixID routes, told where a client certificate subject may come from."""
    source = CertSource(trusted_proxies, client_cert_header)
    endpoint = type("TokenAuth", (TokenAuth,), {"source": source})
    return [Route(PREFIX + "{operation}", endpoint), Route(PREFIX + "{operation}/", endpoint)]
