"""The Token2 TOTPRadius Web API's routes (issue #5): /createuser, /validate, /api.php,
the `hashqr` images under /qr/, and the WordPress plugin's leftover Authy SMS call.

Each call is flat (DESIGN habit 9): read the parameters, run one piece of work in the thread
pool (authenticate, check the scope, parse, one service call), render. Spec:
shared/specs/token2-totpradius-web-api.txt; clients: CLIENTS.md §1; choices: NOTES.md §5, §7.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import NamedTuple

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from otpd.api.token2 import parse, render
from otpd.api.token2.errors import Failure, failure_for
from otpd.api.token2.parse import Call, Params
from otpd.core import access
from otpd.core.errors import NotFound, OtpdError
from otpd.core.model import Scope as AccessScope
from otpd.core.provisioning import b32encode
from otpd.core.service import CredentialService
from otpd.qr import png_bytes

__all__ = ["ROUTES", "render_error"]

_METHODS = ("GET", "POST")
_QR_HEADERS = {
    "Cache-Control": "no-store",  # the image holds the secret
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class Reply(NamedTuple):
    body: render.Body
    ok: bool  # what format 3 says


Work = Callable[[CredentialService, Params], Reply]


def render_error(status: int, message: str, scope: Scope) -> Response:
    """Failures raised outside the calls (404, 405, 413, 503 while sealed, 500) as the failure
    body of the call the path names, in the format its query string asks for."""
    call = parse.call_for_path(scope["path"])
    fmt = parse.params_from_query(scope.get("query_string", b"")).format(call)
    failure = Failure(status, message, (str(status),))
    return render.respond(render.failure_body(call, failure), fmt, ok=False, status=status)


def _service(request: Request) -> CredentialService:
    service: CredentialService = request.app.state.runtime.service
    return service


async def _answer(request: Request, call: Call, work: Work) -> Response:
    params = await parse.read_params(request)
    fmt = params.format(call)
    try:
        # One hop to the thread pool for the whole call: the store may fsync.
        reply = await run_in_threadpool(work, _service(request), params)
    except OtpdError as error:
        failure = failure_for(error)
        body = render.failure_body(call, failure)
        return render.respond(body, fmt, ok=False, status=failure.status)
    return render.respond(reply.body, fmt, ok=reply.ok)


# --- the calls ---------------------------------------------------------------------------


def _createuser(base_url: str, service: CredentialService, params: Params) -> Reply:
    caller = service.authenticate(params.key())
    access.require(caller, AccessScope.WRITE)  # scope before parameters: 403 before 400
    command = parse.create_user(params)
    enrolled = service.enrol_user(caller, email=command.email, phone=command.phone)
    secret = b32encode(enrolled.secret)
    qr_url = render.hashqr(base_url, enrolled.ticket, secret)
    return Reply(render.created(enrolled.record.id, secret, qr_url), ok=True)


def _validate(service: CredentialService, params: Params) -> Reply:
    caller = service.authenticate(params.key())
    access.require(caller, AccessScope.VERIFY)
    command = parse.validate(params)
    if command.token is None or command.send_sms:
        # Nothing to check: no lookup and no failure counted (T24), so no oracle either.
        return Reply(render.no_token(command.userid_text), ok=False)
    result = service.verify_by_id(caller, command.userid, command.token)
    if result.accepted:
        return Reply(render.valid_otp(command.userid_text), ok=True)
    return Reply(render.INVALID_OTP, ok=False)


def _listusers(service: CredentialService, params: Params) -> Reply:
    caller = service.authenticate(params.key())
    access.require(caller, AccessScope.READ)
    parse.require_listusers(params)
    return Reply(render.user_rows(service.list_credentials(caller)), ok=True)


def _base_url(request: Request) -> str:
    """`--public-url` (serve sets it to http://HOST:PORT when not configured), else the URL
    the request came to (an app built without `serve`, as in quick tests)."""
    configured: str | None = request.app.state.runtime.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


async def createuser(request: Request) -> Response:
    return await _answer(request, Call.CREATEUSER, partial(_createuser, _base_url(request)))


async def validate(request: Request) -> Response:
    return await _answer(request, Call.VALIDATE, _validate)


async def listusers(request: Request) -> Response:
    return await _answer(request, Call.LISTUSERS, _listusers)


# --- enrolment images and the Authy leftover ---------------------------------------------


def _qr_png(service: CredentialService, ticket: str) -> bytes:
    return png_bytes(service.enrolment_uri(ticket))


async def qr_image(request: Request) -> Response:
    """The `hashqr` image: no API key (an <img> tag fetches it); the ticket is the authority.
    The `secret` query parameter is ignored (it is there for the WordPress plugin only)."""
    ticket: str = request.path_params["ticket"]
    try:
        png = await run_in_threadpool(_qr_png, _service(request), ticket)
    except NotFound:
        return render_error(404, "not found", request.scope)
    except OtpdError as error:
        failure = failure_for(error)
        return render_error(failure.status, failure.text, request.scope)
    return Response(png, media_type="image/png", headers=_QR_HEADERS)


async def authy_sms(request: Request) -> Response:
    """GET /protected/json/sms/<id>: the WordPress plugin (forked from Authy's) calls it before
    every login and shows an error unless it gets 200. This server sends no SMS: it answers
    200 {} to anyone, reads nothing and does nothing (CLIENTS.md §1.3)."""
    return JSONResponse({})


class _Dispatch:
    """An ASGI app, so every method reaches it: GET and POST run the call; anything else,
    HEAD included (a HEAD /validate would consume a code), is 405 with the Token2 body."""

    def __init__(self, handler: Callable[[Request], Awaitable[Response]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] in _METHODS:
            response = await self.handler(Request(scope, receive))
        else:
            response = render_error(405, "method not allowed", scope)
            response.headers["Allow"] = ", ".join(_METHODS)
        await response(scope, receive, send)


ROUTES = [
    Route("/createuser", _Dispatch(createuser)),
    Route("/validate", _Dispatch(validate)),
    Route("/api.php", _Dispatch(listusers)),
    Route("/qr/{ticket}.png", qr_image, methods=["GET"]),
    Route("/protected/json/sms/{userid}", authy_sms, methods=["GET"]),
]
