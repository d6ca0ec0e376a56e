"""PhenixID otp_token_auth, issue #6 (not built yet: only its error format)."""

from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Scope

__all__ = ["PREFIXES", "ROUTES", "render_error"]

PREFIXES = ("/api/authentication/",)
ROUTES: list[BaseRoute] = []


def render_error(status: int, message: str, scope: Scope) -> Response:
    """PhenixID: the status is the answer; the body is empty."""
    return Response(status_code=status)
