"""PhenixID request -> typed values. Bad input raises InvalidInput (400); nothing here decides
who may call or whether a code is right.

Spec:
https://document.phenixid.net/m/90910/l/1609109-using-phenixid-http-api-for-token-otp-authentication;
choices: docs/api-phenixid.md
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from starlette.datastructures import Headers

from otpd.api.common import parse_json_object
from otpd.core.codes import NumericCode
from otpd.core.errors import InvalidInput

__all__ = ["TokenAuth", "basic_credentials", "parse_token_auth", "tenant_header"]

MAX_AUTHORIZATION = 4096  # a Basic header of a 40-character name and a 40-character key is ~120


@dataclass(frozen=True)
class TokenAuth:
    """otp_token_auth's body: `{"username": "...", "otp": "..."}`."""

    username: str
    otp: str | NumericCode

    def __repr__(self) -> str:  # never the code (docs/requirements.md#no-secret-leaves)
        return f"TokenAuth(username={self.username!r}, otp=***)"


def tenant_header(headers: Headers) -> str | None:
    """The `tenant` header's value when there is exactly one; None when it is missing or
    repeated (which tenant would a repeated header name? Neither: 403, as an unknown one)."""
    values = headers.getlist("tenant")
    return values[0] if len(values) == 1 else None


def basic_credentials(headers: Headers) -> tuple[str, str] | None:
    """`Authorization: Basic base64(name:key)` -> (name, key). Missing, repeated, another
    scheme, bad Base64 or UTF-8, or no colon -> None: all are "no Basic credentials"."""
    values = headers.getlist("authorization")
    if len(values) != 1 or len(values[0]) > MAX_AUTHORIZATION:
        return None
    scheme, _, token = values[0].partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    name, colon, key = decoded.partition(":")
    if not colon or not name or not key:
        return None
    return name, key


def parse_token_auth(media: str, body: bytes) -> TokenAuth:
    """`media`: the request's media type as api.common.media_type gives it (lower case, no
    parameters, so `Application/JSON; charset=utf-8` is `application/json`); it must be
    application/json (400 otherwise). The body: a JSON object with a non-empty string
    `username` and an `otp` that is a string or a non-negative integer (floats, exponents,
    negatives, booleans, null, arrays, objects are 400). Other members are ignored: PhenixID
    bodies "may contain data" agreed at configuration."""
    if media != "application/json":
        raise InvalidInput("Content-Type", "must be application/json")
    fields = parse_json_object(body)
    username = fields.get("username")
    if not isinstance(username, str) or not username:
        raise InvalidInput("username", "must be a non-empty string")
    return TokenAuth(username=username, otp=_otp(fields.get("otp")))


def _otp(value: object) -> str | NumericCode:
    if isinstance(value, str):
        # the code rules of docs/requirements.md#strict-codes apply in the core, never here
        return value
    if type(value) is int:  # not bool (a subclass of int), not float
        return NumericCode(value)  # negative -> InvalidInput
    raise InvalidInput("otp", "must be a string (or a non-negative integer)")
