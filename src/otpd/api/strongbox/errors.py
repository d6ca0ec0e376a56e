"""One table: domain error -> Strongbox status and message (docs/design.md#request-flow,
step 6)."""

from __future__ import annotations

from starlette.responses import Response

from otpd.api.common import errors_response
from otpd.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    InvalidShare,
    NotFound,
    OtpdError,
    PreconditionFailed,
    Sealed,
    SecretCorrupted,
    StoreUnavailable,
    Unauthenticated,
)

__all__ = ["PreconditionFailed", "error_response"]


# PreconditionFailed (412) is core's: the adapter raises it for a failed If-Match check, the
# service for a conditional write that lost a race. Re-exported for the adapter's modules.
_TABLE: list[tuple[type[OtpdError], int, str]] = [
    (InvalidInput, 400, "invalid request"),
    (InvalidShare, 400, "invalid share"),
    (Unauthenticated, 401, "authentication required"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not found"),
    (AlreadyExists, 409, "instance exists"),
    (PreconditionFailed, 412, "precondition failed"),
    (Sealed, 503, "strongbox sealed"),
    (StoreUnavailable, 503, "storage unavailable"),
    (SecretCorrupted, 500, "stored secret failed its integrity check"),
]


def error_response(error: OtpdError) -> Response:
    if isinstance(error, InvalidInput) and error.field == "secret":
        error = InvalidInput("passcode32", error.rule)  # the core's word, in Strongbox's
    for kind, status, message in _TABLE:
        if isinstance(error, kind):
            if isinstance(error, InvalidInput | Forbidden | NotFound):
                # Our own texts: they name a field or scope, never a submitted value.
                message = f"{message}: {error}"
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return errors_response(status, message, headers)
    return errors_response(500, "internal error")
