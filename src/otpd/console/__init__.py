"""The admin console and self-service enrolment pages under /ui/ (issue #16, docs/console.md).

`routes()` is what web/app.py mounts; it is empty (with one log line) when the optional
`console` extra (jinja2, argon2-cffi) is not installed, and the rest of otpd runs as before.
`render_domain_error` is how the app's one exception handler renders a domain error of a
/ui/ path: as the console's error page.
"""

from __future__ import annotations

import logging

from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Scope

from otpd.core.errors import OtpdError

__all__ = ["PREFIXES", "render_domain_error", "routes"]

PREFIXES = ("/ui/",)

log = logging.getLogger("otpd.console")


def routes() -> list[BaseRoute]:
    try:
        from otpd.console.routing import ROUTES
    except ImportError as exc:  # the console extra is missing
        log.info("admin console not served (pip install 'otpd[console]'): %s", exc.name)
        return []
    return ROUTES


def render_domain_error(error: OtpdError, scope: Scope) -> Response:
    # Only the console's routes raise on its paths, and they exist only with the extra.
    from otpd.console.render import error_page

    return error_page(error, scope)
