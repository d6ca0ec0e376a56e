"""The Strongbox TOTP API (Avassa), issue #4."""

from starlette.responses import Response
from starlette.types import Scope

from otpd.api.common import errors_response
from otpd.api.strongbox.errors import error_response
from otpd.api.strongbox.routes import routes
from otpd.core.errors import OtpdError

__all__ = ["PREFIXES", "render_domain_error", "render_error", "routes"]

PREFIXES = ("/v1/",)


def render_error(status: int, message: str, scope: Scope) -> Response:
    """Errors raised outside the routes (404, 405, 413, 503 sealed, 500) in Avassa's format."""
    return errors_response(status, message)


def render_domain_error(error: OtpdError, scope: Scope) -> Response:
    """A domain error raised by a handler, through the one table (errors.py)."""
    return error_response(error)
