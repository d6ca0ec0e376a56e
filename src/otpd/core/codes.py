"""Codes that arrive as numbers (PhenixID `otp` as a JSON number, the vendor's public clients,
docs/requirements.md#strict-codes).

A JSON number loses its leading zeros (`087082` arrives as `87082`), so the one documented rule
is: a non-negative integer is written in decimal and left-padded with zeros to the credential's
digits, and only then do the rules of docs/requirements.md#single-use apply. Nothing else numeric is
a code: the adapter refuses floats, exponents, negatives and booleans before they get here.
"""

from __future__ import annotations

from dataclasses import dataclass

from otpd.core.errors import InvalidInput

__all__ = ["NumericCode", "code_text"]


@dataclass(frozen=True)
class NumericCode:
    value: int

    def __post_init__(self) -> None:
        if type(self.value) is not int or self.value < 0:
            raise InvalidInput("code", "a number must be a non-negative integer")

    # a submitted code is never logged (docs/requirements.md#no-secret-leaves)
    def __repr__(self) -> str:
        return "NumericCode(***)"


def code_text(code: object, digits: int) -> object:
    """The code as `core.policy` reads it: numbers zero-padded to `digits`, the rest as given.

    A number with more digits than the credential can never match; it becomes a text that is
    not well formed (so it is a wrong code), without turning a huge integer into a string.
    """
    if not isinstance(code, NumericCode):
        return code
    if code.value >= 10**digits:
        return "-"
    return str(code.value).zfill(digits)
