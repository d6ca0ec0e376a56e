"""One table: domain error -> PhenixID status (docs/design.md#request-flow, step 6). The
status is the answer and
every body is empty (docs/api-phenixid.md), so each status has one byte-identical
response whatever the true reason (docs/requirements.md#no-oracle)."""

from __future__ import annotations

from starlette.responses import Response

from otpd.core.errors import (
    Forbidden,
    InvalidInput,
    NotFound,
    OtpdError,
    Sealed,
    StoreUnavailable,
    Unauthenticated,
)

__all__ = ["CHALLENGE", "error_response", "status_response"]

CHALLENGE = 'Basic realm="otpd"'

_TABLE: list[tuple[type[OtpdError], int]] = [
    (InvalidInput, 400),
    (Unauthenticated, 401),  # only raised when the tenant requires Basic (core.tenants)
    (Forbidden, 403),
    (NotFound, 403),
    (Sealed, 503),
    (StoreUnavailable, 503),
]


def status_response(status: int, headers: dict[str, str] | None = None) -> Response:
    """An empty answer (Content-Length: 0, no Content-Type)."""
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": CHALLENGE}
    return Response(status_code=status, headers=headers)


def error_response(error: OtpdError) -> Response:
    for kind, status in _TABLE:
        if isinstance(error, kind):
            return status_response(status)
    return status_response(500)  # SecretCorrupted and the like: a backend error (5xx)
