"""Rendering for the console: the Jinja2 environment, the security headers every page carries,
form parsing, the request's one worker hop as a signed-in admin, and the console's page for a
domain error (issue #16, docs/console.md).

Errors are not caught here: a domain error raised on the loop or in the hop reaches the app's
one exception handler (web.app), which hands a /ui/ path to `error_page`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Scope

from otpd.api.common import one_hop
from otpd.console import auth, gate
from otpd.core.console import SignedIn
from otpd.core.errors import (
    Forbidden,
    InvalidInput,
    InvalidShare,
    NotFound,
    OtpdError,
    Sealed,
    Unauthenticated,
)

__all__ = [
    "CSP",
    "ConsoleEndpoint",
    "as_admin",
    "cookie_of",
    "error",
    "error_page",
    "form",
    "page",
    "redirect",
]

log = logging.getLogger("otpd.console")
T = TypeVar("T")

# No inline script or style anywhere: htmx and the stylesheet are files under /ui/static/.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # an enrolment link must not leak through Referer
    "Cache-Control": "no-store",  # pages show keys, shares and QR codes
    "X-Frame-Options": "DENY",
}
_ENV = Environment(
    loader=PackageLoader("otpd.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_MAX_FORM_BYTES = 16 * 1024


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))


_ENV.filters["utc"] = _utc


def page(template: str, http_status: int = 200, **context: Any) -> Response:
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=http_status, headers=_HEADERS)


def redirect(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=_HEADERS)


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form, one value per field; a cross-site post is Refused here, on the
    loop, before the worker hop."""
    origin = f"{request.url.scheme}://{request.url.netloc}"
    if not auth.same_origin(dict(request.headers), origin):
        raise gate.Refused()
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise InvalidInput("form", "is too large")
    text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def cookie_of(request: Request) -> str | None:
    return request.cookies.get(auth.COOKIE)


async def as_admin(
    request: Request, act: Callable[[SignedIn], T], fields: dict[str, str] | None = None
) -> tuple[SignedIn, T]:
    """The request's one worker hop (api.common.one_hop) as the signed-in admin: the session
    (and, for a post's `fields`, its CSRF token), then `act`."""
    runtime = gate.runtime_of(request)
    cookie = cookie_of(request)

    def work() -> tuple[SignedIn, T]:
        admin = gate.signed_in(runtime, cookie, fields)
        return admin, act(admin)

    return await one_hop(request, work)


class ConsoleEndpoint(HTTPEndpoint):
    """An HTTPEndpoint whose 405 is a page too."""

    async def method_not_allowed(self, request: Request) -> Response:
        response = error(405, "Method not allowed.")
        response.headers["Allow"] = ", ".join(self._allowed_methods)
        return response


_GONE = "This enrolment link is not valid: it was used, it expired, or it never existed."
_ENROL = "/ui/enrol/"


def error_page(exc: OtpdError, scope: Scope) -> Response:
    """The page for a domain error (signed out, refused, not found, sealed...) a console
    request raised: web.app's exception handler calls it for every /ui/ path."""
    if isinstance(exc, Unauthenticated):
        return redirect("/ui/login")
    if isinstance(exc, Forbidden):  # gate.Refused too: a cross-site post or a bad CSRF token
        return error(403, str(exc).capitalize() + ".")
    if isinstance(exc, Sealed):
        return error(503, "otpd is sealed: unseal it on the seal page.", sealed=True)
    if isinstance(exc, NotFound) and str(scope.get("path", "")).startswith(_ENROL):
        return error(404, _GONE)  # the same for used, expired and never issued
    if isinstance(exc, (NotFound, InvalidShare)):
        return error(404 if isinstance(exc, NotFound) else 400, str(exc).capitalize() + ".")
    if isinstance(exc, InvalidInput):
        return error(400, str(exc) + ".")
    log.warning("console request failed: %s", type(exc).__name__)
    return error(503, "otpd could not do that just now; try again.")


def error(status: int, message: str, *, sealed: bool = False) -> Response:
    return page("error.html", status, message=message, code=status, sealed=sealed)
