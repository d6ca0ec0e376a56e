"""The admin console and self-service enrolment pages under /ui/ (issue #16, docs/console.md).

`routes()` is what web/app.py mounts; it is empty (with one log line) when the optional
`console` extra (jinja2, argon2-cffi) is not installed, and the rest of otpd runs as before.
"""

from __future__ import annotations

import logging

from starlette.routing import BaseRoute

__all__ = ["routes"]

log = logging.getLogger("otpd.console")


def routes() -> list[BaseRoute]:
    try:
        from otpd.console.routing import ROUTES
    except ImportError as exc:  # the console extra is missing
        log.info("admin console not served (pip install 'otpd[console]'): %s", exc.name)
        return []
    return ROUTES
