"""Rendering for the console: the Jinja2 environment, the security headers every page carries,
form parsing, and the one worker hop each request makes (issue #16, docs/console.md)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from otpd.console import auth, gate
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
    "Refused",
    "cookie_of",
    "error",
    "form",
    "hop",
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


class Refused(Exception):
    """A request refused before any work: a cross-site post or a bad CSRF token."""


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
        raise Refused("cross-site request")
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise InvalidInput("form", "is too large")
    text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def cookie_of(request: Request) -> str | None:
    return request.cookies.get(auth.COOKIE)


async def hop(
    request: Request,
    act: Callable[[gate.Admin], T],
    csrf: dict[str, str] | None = None,
) -> T:
    """The request's one worker hop: the session (and, for a post, its CSRF token), then
    `act`. Errors propagate to ConsoleEndpoint, which turns them into pages."""
    runtime = gate.runtime_of(request)
    cookie = cookie_of(request)

    def work() -> T:
        admin = gate.admin_for(runtime, cookie)
        if csrf is not None and not auth.tokens_match(admin.session.csrf, csrf.get("csrf")):
            raise Refused("bad CSRF token")
        return act(admin)

    return await run_in_threadpool(work)


class ConsoleEndpoint(HTTPEndpoint):
    """An HTTPEndpoint whose errors (signed out, refused, not found, sealed...) are pages."""

    async def dispatch(self) -> None:
        request = Request(self.scope, receive=self.receive)
        handler = getattr(self, request.method.lower(), None)
        if handler is None:
            response = error(405, "Method not allowed.")
        else:
            response = await guarded(lambda: handler(request))
        await response(self.scope, self.receive, self.send)


async def guarded(call: Callable[[], Any]) -> Response:
    try:
        response: Response = await call()
        return response
    except Unauthenticated:
        return redirect("/ui/login")
    except Refused:
        return error(403, "This request did not come from this console's own page.")
    except Forbidden as exc:
        return error(403, str(exc).capitalize() + ".")
    except Sealed:
        return error(503, "otpd is sealed: unseal it on the seal page.", sealed=True)
    except (NotFound, InvalidShare) as exc:
        return error(404 if isinstance(exc, NotFound) else 400, str(exc).capitalize() + ".")
    except InvalidInput as exc:
        return error(400, str(exc) + ".")
    except OtpdError as exc:
        log.warning("console request failed: %s", type(exc).__name__)
        return error(503, "otpd could not do that just now; try again.")


def error(status: int, message: str, *, sealed: bool = False) -> Response:
    return page("error.html", status, message=message, code=status, sealed=sealed)
