"""What every Strongbox handler needs: the service, the caller, query flags, replies, ETags.

Handlers stay flat (DESIGN habit 9): parse -> one service call -> render.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from otpd.api.strongbox.errors import PreconditionFailed, error_response
from otpd.api.strongbox.parse import wants_yaml
from otpd.api.strongbox.render import render
from otpd.core import access
from otpd.core.errors import InvalidInput, NotFound, OtpdError, Unauthenticated
from otpd.core.model import Principal, Scope
from otpd.core.service import CredentialService

__all__ = [
    "Handler",
    "bearer",
    "call",
    "check_preconditions",
    "check_site",
    "endpoint",
    "flag",
    "not_modified",
    "path_name",
    "principal",
    "reply",
    "service",
]

Handler = Callable[[Request], Awaitable[Response]]
P = ParamSpec("P")
T = TypeVar("T")


def endpoint(handler: Handler) -> Handler:
    """Map domain errors through the one table; anything else reaches the last resort."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except OtpdError as error:
            return error_response(error)

    return wrapped


def service(request: Request) -> CredentialService:
    runtime_service: CredentialService = request.app.state.runtime.service
    return runtime_service


async def call(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    # The store may fsync (synchronous=FULL): keep the event loop free.
    return await run_in_threadpool(fn, *args, **kwargs)


def bearer(request: Request) -> str:
    """The one bearer token of the request. Two Authorization headers are refused rather
    than guessing which one counts (T68: no partial authentication)."""
    values = request.headers.getlist("authorization")
    scheme, _, token = values[0].partition(" ") if len(values) == 1 else ("", "", "")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("no bearer token")
    return token.strip()


async def principal(request: Request, scope: Scope | None = None) -> Principal:
    """Authenticate, then check the scope before any body is read: a client without the
    scope learns nothing about the body rules (403 before 400)."""
    caller = await call(service(request).authenticate_token, bearer(request))
    if scope is not None:
        access.require(caller, scope)
    return caller


def flag(request: Request, name: str) -> bool:
    """`validate`, `keys`, `count`: the spec's only value is "true"; "false" is accepted."""
    value = request.query_params.get(name)
    if value not in (None, "true", "false"):
        raise InvalidInput(name, "must be true or false")
    return value == "true"


def check_site(request: Request) -> None:
    """A single node answers for its configured site only (NOTES.md §5)."""
    site = request.query_params.get("site")
    if site is not None and site != request.app.state.runtime.settings.site:
        raise NotFound("no such site")


def path_name(request: Request) -> str:
    name: str = request.path_params["name"]
    return name


def reply(
    request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return render(body, yaml_out=wants_yaml(request), status=status, headers=headers)


def _matches(header: str, current: str, *, weak: bool) -> bool:
    tags = {tag.strip() for tag in header.split(",")}
    if weak:  # If-None-Match compares weakly (RFC 9110 §13.1.2): W/"x" matches "x"
        tags = {tag.removeprefix("W/") for tag in tags}
    return "*" in tags or current in tags


def check_preconditions(request: Request, current: str | None) -> None:
    """PUT/PATCH/DELETE: If-Match / If-None-Match against the current ETag (None: there is
    no such resource) -> 412 (RFC 9110 §13.2.2)."""
    if_match = request.headers.get("if-match")
    if if_match is not None and (current is None or not _matches(if_match, current, weak=False)):
        raise PreconditionFailed("if-match")
    if_none_match = request.headers.get("if-none-match")
    if (
        if_none_match is not None
        and current is not None
        and _matches(if_none_match, current, weak=True)
    ):
        raise PreconditionFailed("if-none-match")


def not_modified(request: Request, current: str) -> Response | None:
    """GET: a failing If-Match is 412; a matching If-None-Match is 304 with the ETag."""
    if_match = request.headers.get("if-match")
    if if_match is not None and not _matches(if_match, current, weak=False):
        raise PreconditionFailed("if-match")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and _matches(if_none_match, current, weak=True):
        return Response(status_code=304, headers={"ETag": current})
    return None
