"""Token2 requests -> parameters and typed commands (docs/api-token2.md).

Rules, documented in docs/api-token2.md:
- Parameters come from the query string and, for a POST with an
  `application/x-www-form-urlencoded` body, from that body. Names match exactly (PHP's `$_GET`
  is case-sensitive: `API_KEY` is not `api_key`).
- One rule for duplicates (docs/requirements.md#duplicate-parameters): the query string before the
body, and within each the first
  occurrence wins. `api_key` wins over `api` wherever each appears.
- `format`: "0" to "3"; anything else (missing, "json", "01") is the endpoint's default.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from urllib.parse import parse_qsl

from starlette.requests import Request

from otpd.api.common import media_type
from otpd.api.token2.errors import InvalidParameters, problem_for
from otpd.core.enrolment import normalise_phone, validate_email
from otpd.core.errors import InvalidInput

__all__ = [
    "Call",
    "CreateUser",
    "Format",
    "Params",
    "Validate",
    "call_for_path",
    "create_user",
    "params_from_query",
    "params_of",
    "read_raw",
    "require_listusers",
    "validate",
]

_FORM = "application/x-www-form-urlencoded"
_USERID = re.compile(r"[1-9][0-9]{0,17}")  # ids start at 1; 18 digits stay below 2**63
_PIN = re.compile(r"[0-9+]{0,16}")  # the WordPress plugin keeps digits and "+"; "0" by default


class Format(IntEnum):
    SERIALIZED = 0  # PHP serialize(), the vendor's default
    JSON = 1
    XML = 2
    PLAIN = 3  # "true" or "false" only


class Call(Enum):
    CREATEUSER = "/createuser"
    VALIDATE = "/validate"
    LISTUSERS = "/api.php"
    OTHER = ""  # /qr/..., /protected/..., unknown paths under the Token2 prefixes

    @property
    def default_format(self) -> Format:
        # The vendor: listusers answers "in JSON format only"; the rest default to serialized.
        return Format.JSON if self is Call.LISTUSERS else Format.SERIALIZED


def call_for_path(path: str) -> Call:
    for call in (Call.CREATEUSER, Call.VALIDATE, Call.LISTUSERS):
        if path == call.value:
            return call
    return Call.OTHER


@dataclass(frozen=True)
class Params:
    query: Sequence[tuple[str, str]]
    form: Sequence[tuple[str, str]] = ()

    # names only: values include the API key and the code (docs/requirements.md#no-secret-leaves)
    def __repr__(self) -> str:
        names = [name for source in (self.query, self.form) for name, _ in source]
        return f"Params(names={names!r})"

    def get(self, name: str) -> str | None:
        for source in (self.query, self.form):
            for key, value in source:
                if key == name:
                    return value
        return None

    def key(self) -> str:
        """`api_key` (the TOTPRadius spelling) wins over `api` (the Cloud spelling)."""
        key = self.get("api_key")
        if key is None:
            key = self.get("api")
        return key or ""

    def format(self, call: Call) -> Format:
        value = self.get("format")
        if value in ("0", "1", "2", "3"):
            return Format(int(value))
        return call.default_format


def params_from_query(query_string: bytes) -> Params:
    # As Starlette reads it: latin-1 to text, then percent-decoding as UTF-8.
    return Params(tuple(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)))


async def read_raw(request: Request) -> tuple[tuple[tuple[str, str], ...], bytes | None]:
    """On the event loop: the query pairs, and the raw body when it is a form POST (capped by
    the middleware, docs/requirements.md#bounded-input). params_of parses it in the worker."""
    query = tuple(request.query_params.multi_items())
    if request.method != "POST" or media_type(request.headers) != _FORM:
        return query, None
    return query, await request.body()


def params_of(query: Sequence[tuple[str, str]], raw: bytes | None) -> Params:
    """In the worker thread, as every body (docs/requirements.md#safe-parsers). Bad UTF-8
    becomes U+FFFD, which no parameter rule accepts: a failure body, never a 500."""
    if raw is None:
        return Params(query)
    return Params(query, tuple(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)))


# --- createuser --------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateUser:
    email: str | None
    phone: str  # normalised: +<digits>


def create_user(params: Params) -> CreateUser:
    """Every problem at once, so the WordPress plugin can show each (`code` is a list)."""
    problems: list[tuple[str, str]] = []
    email = params.get("email") or None  # empty means not given: the plugin always sends it
    phone = params.get("phone")
    try:
        email = validate_email(email) if email is not None else None
    except InvalidInput as error:
        problems.append(problem_for(error))
    try:
        phone = normalise_phone(phone)
    except InvalidInput as error:
        problems.append(problem_for(error))
    if not _PIN.fullmatch(params.get("pin") or ""):
        problems.append(problem_for(InvalidInput("pin", "must be digits")))
    if (params.get("type") or "0") != "0":  # TOTPRadius: "There is no other options"
        problems.append(problem_for(InvalidInput("type", "must be 0")))
    if problems:
        raise InvalidParameters(tuple(sorted(problems)))
    assert phone is not None
    return CreateUser(email=email, phone=phone)


# --- validate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Validate:
    userid: int  # 0 when the parameter names no credential: ids start at 1, so 0 never exists
    userid_text: str  # the canonical id as sent, or "" (echoed only in the no-OTP answer)
    token: str | None = field(repr=False)  # None: no OTP given (missing or empty)
    send_sms: bool  # send=1: the Cloud API's "send an SMS"; send=0 and others are ignored


def validate(params: Params) -> Validate:
    """Never raises: a userid that is missing, not a canonical positive number or too large
    names no credential and is rejected like an unknown one (docs/requirements.md#no-oracle). The
    token goes to the service as it is: the one code rule of docs/requirements.md#strict-codes lives
    there."""
    text = params.get("userid") or ""
    canonical = _USERID.fullmatch(text) is not None
    return Validate(
        userid=int(text) if canonical else 0,
        userid_text=text if canonical else "",
        token=params.get("token") or None,
        send_sms=params.get("send") == "1",
    )


# --- listusers ---------------------------------------------------------------------------


def require_listusers(params: Params) -> None:
    if params.get("action") != "listusers":
        raise InvalidInput("action", "must be listusers")
