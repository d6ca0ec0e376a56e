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
    SecretCorrupted,
    StoreUnavailable,
    Unauthenticated,
)

__all__ = ["render_domain_error"]

# (error, status, message, the error's own text follows the message)
_TABLE: list[tuple[type[OtpdError], int, str, bool]] = [
    (InvalidInput, 400, "invalid request", True),
    (InvalidShare, 400, "invalid request", True),
    (Unauthenticated, 401, "authentication required", False),
    (Forbidden, 403, "forbidden", True),  # names the missing scope, never a submitted value
    (Sealed, 503, "sealed", False),
    (StoreUnavailable, 503, "storage unavailable", False),
    (SecretCorrupted, 500, "stored secret failed its integrity check", False),
]


def render_domain_error(error: OtpdError, scope: Scope) -> Response:
    """The error as the system paths answer it (`scope`: the app's one renderer signature,
    unused here); an error outside the table is re-raised to the last-resort handler (a fixed
    500 with the request id, the traceback in the log)."""
    for kind, status, message, with_text in _TABLE:
        if isinstance(error, kind):
            text = f"{message}: {error}" if with_text else message
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return errors_response(status, text, headers)
    raise error
