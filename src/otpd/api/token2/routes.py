"""The Token2 TOTPRadius Web API's routes (issue #5): /createuser, /validate, /api.php,
the `hashqr` images under /qr/, and the WordPress plugin's leftover Authy SMS call.

Each call is flat (docs/design.md#request-flow): read the query and the raw body on the event
loop, run one piece of work in the request's one worker hop (parse the form, authenticate with
the scope, one service call), render. A domain error goes to the app's one handler, which
renders it with errors.failure_for in the format the call asked for. Spec:
https://token2.com/?content=totpradiusapi; clients and choices: docs/api-token2.md
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, NamedTuple

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from otpd.api.common import ApiRuntime, Endpoint, one_hop, runtime_of
from otpd.api.token2 import parse, render
from otpd.api.token2.errors import Failure, InFormat, failure_for
from otpd.api.token2.parse import Call, Format, Params
from otpd.core.enrolment_service import EnrolmentService
from otpd.core.errors import NotFound, OtpdError
from otpd.core.model import Scope as AccessScope
from otpd.core.provisioning import b32encode
from otpd.qr import png_bytes

__all__ = ["render_domain_error", "render_error", "routes"]

_METHODS = ("GET", "POST")
_QR_HEADERS = {
    "Cache-Control": "no-store",  # the image holds the secret
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_QR_PREFIX = "/qr/"


class Reply(NamedTuple):
    body: render.Body
    ok: bool  # what format 3 says


Work = Callable[[ApiRuntime, Params, str], Reply]


class CallSpec(NamedTuple):
    call: Call
    work: Work


def render_error(status: int, message: str, scope: Scope) -> Response:
    """Failures raised outside the calls (404, 405, 413, 503 while sealed, 500) as the failure
    body of the call the path names, in the format its query string asks for."""
    call = parse.call_for_path(scope["path"])
    fmt = parse.params_from_query(scope.get("query_string", b"")).format(call)
    failure = Failure(status, message, (str(status),))
    return render.respond(render.failure_body(call, failure), fmt, ok=False, status=failure.status)


def render_domain_error(error: OtpdError, scope: Scope) -> Response:
    """A domain error raised by a call: Token2's one table (errors.failure_for), in the format
    the call asked for. The enrolment images answer with their status as the code."""
    if scope["path"].startswith(_QR_PREFIX):
        if isinstance(error, NotFound):
            return render_error(404, "not found", scope)
        failure = failure_for(error)
        return render_error(failure.status, failure.text, scope)
    call = parse.call_for_path(scope["path"])
    if isinstance(error, InFormat):
        fmt, error = Format(error.fmt), error.error
    else:
        fmt = parse.params_from_query(scope.get("query_string", b"")).format(call)
    failure = failure_for(error)
    body = render.failure_body(call, failure)
    return render.respond(body, fmt, ok=False, status=failure.status)


def _run(
    call: Call,
    work: Work,
    runtime: ApiRuntime,
    query: Sequence[tuple[str, str]],
    raw: bytes | None,
    base_url: str,
) -> tuple[Reply, Format]:
    """The request's one worker hop: parse the form, then the call's work."""
    params = parse.params_of(query, raw)
    fmt = params.format(call)
    try:
        return work(runtime, params, base_url), fmt
    except OtpdError as error:
        raise InFormat(error, fmt) from error


# --- the calls ---------------------------------------------------------------------------


def _createuser(runtime: ApiRuntime, params: Params, base_url: str) -> Reply:
    caller = runtime.access.authenticate(params.key(), AccessScope.WRITE)  # 403 before 400
    command = parse.create_user(params)
    enrolled = runtime.enrolment.enrol_user(caller, email=command.email, phone=command.phone)
    secret = b32encode(enrolled.secret)
    qr_url = render.hashqr(base_url, enrolled.ticket, secret)
    return Reply(render.created(enrolled.record.id, secret, qr_url), ok=True)


def _validate(runtime: ApiRuntime, params: Params, base_url: str) -> Reply:
    caller = runtime.access.authenticate(params.key(), AccessScope.VERIFY)
    command = parse.validate(params)
    if command.token is None or command.send_sms:
        # Nothing to check: no lookup and no failure counted, so no oracle either.
        return Reply(render.no_token(command.userid_text), ok=False)
    result = runtime.credentials.verify_by_id(caller, command.userid, command.token)
    if result.accepted:
        return Reply(render.valid_otp(command.userid_text), ok=True)
    return Reply(render.INVALID_OTP, ok=False)


def _listusers(runtime: ApiRuntime, params: Params, base_url: str) -> Reply:
    caller = runtime.access.authenticate(params.key(), AccessScope.READ)
    parse.require_listusers(params)
    return Reply(render.user_rows(runtime.credentials.list_credentials(caller)), ok=True)


class Token2Call(Endpoint):
    """One Token2 call: GET and POST run it; anything else, HEAD included (a HEAD /validate
    would consume a code), is 405 with the Token2 failure body and `Allow: GET, POST`."""

    spec: ClassVar[CallSpec]
    public_url: ClassVar[str | None] = None
    allowed = _METHODS  # not HEAD, which Starlette adds for GET

    async def get(self, request: Request) -> Response:
        query, raw = await parse.read_raw(request)
        reply, fmt = await one_hop(
            request,
            _run,
            self.spec.call,
            self.spec.work,
            runtime_of(request),
            query,
            raw,
            self._base(request),
        )
        return render.respond(reply.body, fmt, ok=reply.ok)

    post = get

    async def method_not_allowed(self, request: Request) -> Response:
        response = render_error(405, "method not allowed", request.scope)
        response.headers["Allow"] = ", ".join(_METHODS)
        return response

    def _base(self, request: Request) -> str:
        """`--public-url` (serve sets it to http://HOST:PORT when not configured), else the
        URL the request came to (an app built without `serve`, as in quick tests)."""
        return (self.public_url or str(request.base_url)).rstrip("/")


# --- enrolment images and the Authy leftover ---------------------------------------------


def _qr_png(enrolment: EnrolmentService, ticket: str) -> bytes:
    return png_bytes(enrolment.enrolment_uri(ticket))


class QrImage(Endpoint):
    async def get(self, request: Request) -> Response:
        """The `hashqr` image: no API key (an <img> tag fetches it); the ticket is the
        authority. The `secret` query parameter is ignored (it is there for the WordPress
        plugin only)."""
        ticket: str = request.path_params["ticket"]
        png = await one_hop(request, _qr_png, runtime_of(request).enrolment, ticket)
        return Response(png, media_type="image/png", headers=_QR_HEADERS)


async def authy_sms(request: Request) -> Response:
    """GET /protected/json/sms/<id>: the WordPress plugin (forked from Authy's) calls it before
    every login and shows an error unless it gets 200. This server sends no SMS: it answers
    200 {} to anyone, reads nothing and does nothing (docs/api-token2.md)."""
    return JSONResponse({})


def routes(*, public_url: str | None = None) -> list[BaseRoute]:
    """The Token2 routes; `public_url` is the base of the `hashqr` image URLs."""

    def endpoint(call: Call, work: Work) -> type[Token2Call]:
        attributes = {"spec": CallSpec(call, work), "public_url": public_url}
        return type(f"Token2Call_{call.name}", (Token2Call,), attributes)

    return [
        Route("/createuser", endpoint(Call.CREATEUSER, _createuser)),
        Route("/validate", endpoint(Call.VALIDATE, _validate)),
        Route("/api.php", endpoint(Call.LISTUSERS, _listusers)),
        Route(_QR_PREFIX + "{ticket}.png", QrImage),
        Route("/protected/json/sms/{userid}", authy_sms, methods=["GET"]),
    ]
