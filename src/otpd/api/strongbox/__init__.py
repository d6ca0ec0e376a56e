"""The Strongbox TOTP API (Avassa), issue #4."""

from starlette.responses import Response
from starlette.types import Scope

from otpd.api.common import errors_response
from otpd.api.strongbox.routes import ROUTES

__all__ = ["PREFIXES", "ROUTES", "render_error"]

PREFIXES = ("/v1/",)


def render_error(status: int, message: str, scope: Scope) -> Response:
    """Errors raised outside the routes (404, 405, 413, 503 sealed, 500) in Avassa's format."""
    return errors_response(status, message)
