"""OTP credentials of a Keycloak realm export (`kc.sh export --realm R`): users[].credentials[]
with type "otp", secretData {"value": ...} and credentialData {"subType", "digits", "period",
"counter", "algorithm": "HmacSHA1", "secretEncoding"}. With secretEncoding null (Keycloak's
default) the key is the UTF-8 bytes of the value, as Keycloak's own TimeBasedOTP uses it;
"BASE32" means base32 text. The realm name is the issuer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from otpd.core.model import SecretBytes
from otpd.transfer.formats.records import (
    FormatError,
    ImportRecord,
    ParseOptions,
    Row,
    RowError,
    decode_secret,
)

__all__ = ["parse"]


def parse(data: bytes, options: ParseOptions) -> Iterator[Row]:
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise FormatError("the file is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("users", []), list):
        raise FormatError("not a Keycloak realm export (no users list)")
    realm = str(document.get("realm") or "")
    row = 0
    for user in document.get("users", []):
        if not isinstance(user, dict):
            continue
        credentials = user.get("credentials") or []
        for credential in credentials if isinstance(credentials, list) else []:
            if isinstance(credential, dict) and credential.get("type") == "otp":
                row += 1
                yield _record(realm, str(user.get("username") or ""), credential, row)


def _record(realm: str, username: str, credential: dict[str, Any], row: int) -> Row:
    label = f"{realm}:{username}" if realm else username
    try:
        secret_data = json.loads(credential.get("secretData") or "{}")
        config = json.loads(credential.get("credentialData") or "{}")
        value = str(secret_data["value"])
    except (ValueError, TypeError, KeyError):
        return RowError(row, label, "secretData or credentialData is not readable")
    if not isinstance(config, dict):
        return RowError(row, label, "credentialData is not readable")
    kind = str(config.get("subType") or "totp").lower()
    encoding = config.get("secretEncoding")
    try:
        if encoding is None:
            secret = value.encode("utf-8")
        elif str(encoding).upper() == "BASE32":
            secret = decode_secret(value, "base32")
        else:
            raise ValueError("unknown secretEncoding")
        return ImportRecord(
            row=row,
            issuer=realm,
            account=username,
            secret=SecretBytes(secret),
            algorithm=str(config.get("algorithm") or "HmacSHA1").lower().removeprefix("hmac"),
            digits=int(config.get("digits") or 6),
            period=int(config.get("period") or 30),
            kind=kind,
            counter=int(config.get("counter") or 0) if kind == "hotp" else None,
        )
    except (ValueError, TypeError) as error:
        return RowError(row, label, str(error) if isinstance(error, ValueError) else "bad value")
