"""PhenixID `otp_token_auth` (issue #6): tenants, Basic auth and client certificates.

Spec:
https://document.phenixid.net/m/90910/l/1609109-using-phenixid-http-api-for-token-otp-authentication;
choices: docs/api-phenixid.md.
"""

from starlette.responses import Response
from starlette.types import Scope

from otpd.api.phenixid.errors import error_response, status_response
from otpd.api.phenixid.routes import PREFIX, routes
from otpd.core.errors import OtpdError

__all__ = ["PREFIXES", "render_domain_error", "render_error", "routes"]

PREFIXES = (PREFIX,)


def render_error(status: int, message: str, scope: Scope) -> Response:
    """Errors raised outside the routes (404, 413, 503 sealed, 500): the status, empty body."""
    return status_response(status, {"Allow": "PUT"} if status == 405 else None)


def render_domain_error(error: OtpdError, scope: Scope) -> Response:
    """A domain error raised by the endpoint: the status from the one table, empty body."""
    return error_response(error)
