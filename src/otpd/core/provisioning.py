"""Base32 secrets and otpauth:// key URIs (Google Authenticator "Key Uri Format").

Strict decoding (docs/requirements.md#strict-encodings): RFC 4648 alphabet only, case-insensitive,
padding optional, and the length must decode to whole bytes; errors name the field and never echo
the value.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from otpd.core.errors import InvalidInput
from otpd.core.model import Algorithm, CredentialRecord, OtpParams, SecretBytes
from otpd.core.ports import TenantStore

__all__ = ["KeyUri", "KeyUriBuilder", "b32decode_strict", "b32encode", "build_uri", "parse_uri"]

_B32 = re.compile(r"[A-Z2-7]*")
_NUMBER = re.compile(r"[0-9]{1,10}")  # ASCII only: int() would take " 8" and Arabic-Indic digits
_VALID_UNPADDED_LENGTHS = {0, 2, 4, 5, 7}  # len % 8 that RFC 4648 can produce


def b32encode(secret: SecretBytes) -> str:
    return base64.b32encode(secret.reveal()).decode("ascii").rstrip("=")


def b32decode_strict(text: object, field_name: str = "secret") -> SecretBytes:
    if not isinstance(text, str) or len(text) > 2048 or not text.isascii():
        raise InvalidInput(field_name, "must be a Base32 string")
    body = text.upper().rstrip("=")
    padding = len(text) - len(body)
    if not body or not _B32.fullmatch(body) or len(body) % 8 not in _VALID_UNPADDED_LENGTHS:
        raise InvalidInput(field_name, "must be RFC 4648 Base32 (A-Z, 2-7, padding optional)")
    if padding and padding != -len(body) % 8:
        raise InvalidInput(field_name, "has wrong Base32 padding")
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except binascii.Error:
        raise InvalidInput(field_name, "must be RFC 4648 Base32") from None
    # Reject non-canonical encodings whose unused trailing bits are not zero.
    if base64.b32encode(raw).decode("ascii").rstrip("=") != body:
        raise InvalidInput(field_name, "is not canonical Base32")
    return SecretBytes(raw)


def _enc(value: str) -> str:
    # RFC 3986: space as %20 (never +); '@' left readable as in the vendor sample.
    return quote(value, safe="@")


def build_uri(
    *,
    secret: SecretBytes,
    label_prefix: str,
    account_name: str,
    issuer: str,
    params: OtpParams,
) -> str:
    """otpauth://totp/PREFIX:ACCOUNT?secret=..&issuer=..[&algorithm][&digits][&period].

    Defaults (SHA1, 6 digits, 30 s) are left out, which reproduces the Strongbox sample
    byte for byte (docs/api-strongbox.md).
    """
    uri = (
        f"otpauth://totp/{_enc(label_prefix)}:{_enc(account_name)}"
        f"?secret={b32encode(secret)}&issuer={_enc(issuer)}"
    )
    if params.algorithm is not Algorithm.SHA1:
        uri += f"&algorithm={params.algorithm.value.upper()}"
    if params.digits != 6:
        uri += f"&digits={params.digits}"
    if params.period != 30:
        uri += f"&period={params.period}"
    return uri


class KeyUriBuilder:
    """The otpauth URI of a stored credential. A tenant with an issuer (a company, issue #13)
    names its credentials in the app; else the label prefix setting decides ("issuer": the
    credential's own issuer)."""

    def __init__(self, tenants: TenantStore, label_prefix: str) -> None:
        self._tenants = tenants
        self._label_prefix = label_prefix  # configuration (settings): no default here

    def uri_for(self, record: CredentialRecord, secret: SecretBytes) -> str:
        tenant = self._tenants.get_tenant(record.tenant)
        issuer = tenant.issuer if tenant is not None and tenant.issuer else None
        prefix = record.issuer if self._label_prefix == "issuer" else self._label_prefix
        return build_uri(
            secret=secret,
            label_prefix=issuer or prefix,
            account_name=record.account_name,
            issuer=issuer or record.issuer,
            params=record.params,
        )


@dataclass(frozen=True)
class KeyUri:
    label_prefix: str | None
    account_name: str
    secret: SecretBytes
    issuer: str | None
    params: OtpParams


def parse_uri(uri: str) -> KeyUri:
    """Parse a TOTP key URI strictly; errors never echo the URI (it holds the secret)."""
    parts = urlsplit(uri)
    if parts.scheme != "otpauth" or parts.netloc != "totp":
        raise InvalidInput("uri", "must be an otpauth://totp/ URI")
    label = unquote(parts.path.lstrip("/"))
    prefix: str | None
    if ":" in label:
        prefix, account = label.split(":", 1)
        account = account.lstrip(" ")
    else:
        prefix, account = None, label
    query: dict[str, str] = {}
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key in query:
            raise InvalidInput("uri", f"repeats the parameter {key}")
        query[key] = value
    if "secret" not in query:
        raise InvalidInput("uri", "has no secret")
    secret = b32decode_strict(query["secret"], "uri secret")
    digits_text, period_text = query.get("digits", "6"), query.get("period", "30")
    if not (_NUMBER.fullmatch(digits_text) and _NUMBER.fullmatch(period_text)):
        raise InvalidInput("uri", "has bad digits or period")
    try:
        algorithm = Algorithm(query.get("algorithm", "SHA1").lower())
    except ValueError:
        raise InvalidInput("uri", "has an unknown algorithm") from None
    digits, period = int(digits_text), int(period_text)
    return KeyUri(
        label_prefix=prefix,
        account_name=account,
        secret=secret,
        issuer=query.get("issuer"),
        params=OtpParams(algorithm=algorithm, digits=digits, period=period),
    )
