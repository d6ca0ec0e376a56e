"""One table: domain error -> status and message on the system paths (seal, unseal, export).
Strongbox's error body, with the system paths' own words."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from otpd.api.common import errors_response
from otpd.core.errors import (
    Forbidden,
    InvalidInput,
    InvalidShare,
    OtpdError,
    Sealed,
    Unauthenticated,
)

__all__ = ["render_domain_error"]


def render_domain_error(error: OtpdError, scope: Scope) -> Response:
    """The error as the system paths answer it; an error they do not map is re-raised to the
    last-resort handler (a fixed 500 with the request id)."""
    if isinstance(error, InvalidInput | InvalidShare):
        return errors_response(400, f"invalid request: {error}")
    if isinstance(error, Unauthenticated):
        return errors_response(401, "authentication required", {"WWW-Authenticate": "Bearer"})
    if isinstance(error, Forbidden):
        needed = "reveal" if scope["path"].endswith("/export") else "seal"
        return errors_response(403, f"scope {needed} required")
    if isinstance(error, Sealed):
        return errors_response(503, "sealed")
    raise error
