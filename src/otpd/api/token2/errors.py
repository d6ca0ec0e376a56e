"""One table: domain error -> Token2 HTTP status, response text and error codes
(docs/design.md#request-flow, step 6).

Token2 reports application outcomes inside HTTP 200 (docs/api-token2.md: the WSO2 connector throws
on any 4xx/5xx); 5xx is kept for server faults: sealed, storage down, a corrupted secret.
Codes 22 (PIN) and 23 (phone) are the ones the WordPress plugin knows; the others are otpd's,
listed in docs/api-token2.md. Transport-level failures (404, 405, 413, 503 from the gate, 500)
carry their HTTP status as their code.
"""

from __future__ import annotations

from dataclasses import dataclass

from otpd.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    OtpdError,
    Sealed,
    SecretCorrupted,
    StoreUnavailable,
    Unauthenticated,
)

__all__ = [
    "CODE_ACTION",
    "CODE_BAD_KEY",
    "CODE_EMAIL",
    "CODE_NAME",
    "CODE_PHONE",
    "CODE_PIN",
    "CODE_SCOPE",
    "CODE_TYPE",
    "SEALED_TEXT",
    "Failure",
    "InFormat",
    "InvalidParameters",
    "failure_for",
    "problem_for",
]

CODE_BAD_KEY = "10"
CODE_SCOPE = "11"
CODE_ACTION = "20"
CODE_EMAIL = "21"
CODE_PIN = "22"  # the WordPress plugin: "PIN code is not valid"
CODE_PHONE = "23"  # the WordPress plugin: "Phone number is not valid"
CODE_TYPE = "24"
CODE_NAME = "25"
SEALED_TEXT = "strongbox sealed"  # the same words as the middleware's seal gate: one answer


@dataclass(frozen=True)
class Failure:
    status: int
    text: str
    codes: tuple[str, ...]


class InvalidParameters(OtpdError):
    """One or more createuser parameters break their rule; each problem is (code, text)."""

    def __init__(self, problems: tuple[tuple[str, str], ...]) -> None:
        super().__init__("; ".join(text for _, text in problems))
        self.problems = problems


class InFormat(OtpdError):
    """A domain error of a Token2 call, with the response format the call asked for: the
    `format` parameter may be in a form body, which only the worker thread parsed."""

    def __init__(self, error: OtpdError, fmt: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.fmt = fmt


# Field -> (code, text). Texts are ours: they never repeat a submitted value.
_FIELDS: dict[str, tuple[str, str]] = {
    "email": (CODE_EMAIL, "Email is not valid"),
    "pin": (CODE_PIN, "PIN code is not valid"),
    "phone": (CODE_PHONE, "Phone number is not valid"),
    "type": (CODE_TYPE, "Only type 0 (mobile application) is supported"),
    "action": (CODE_ACTION, "Unknown action"),
}


def problem_for(error: InvalidInput) -> tuple[str, str]:
    return _FIELDS.get(error.field, (CODE_ACTION, f"Parameter {error.field} is not valid"))


_TABLE: list[tuple[type[OtpdError], int, str, str]] = [
    (Unauthenticated, 200, "invalid api key", CODE_BAD_KEY),
    (AlreadyExists, 200, "no free user name", CODE_NAME),
    (NotFound, 200, "not found", CODE_ACTION),
    (Sealed, 503, SEALED_TEXT, "503"),
    (StoreUnavailable, 503, "storage unavailable", "503"),
    (SecretCorrupted, 500, "internal error", "500"),
]


def failure_for(error: OtpdError) -> Failure:
    if isinstance(error, InvalidParameters):
        codes = tuple(code for code, _ in error.problems)
        return Failure(200, str(error), codes)
    if isinstance(error, InvalidInput):
        code, text = problem_for(error)
        return Failure(200, text, (code,))
    if isinstance(error, Forbidden):
        # Our own text: "missing scope write" names the scope, never a submitted value.
        return Failure(200, f"api key not allowed: {error}", (CODE_SCOPE,))
    for kind, status, text, code in _TABLE:
        if isinstance(error, kind):
            return Failure(status, text, (code,))
    return Failure(500, "internal error", ("500",))
