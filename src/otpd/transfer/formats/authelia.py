"""Authelia's `authelia storage user totp export` YAML (internal/model/totp_configuration.go):
totp_configurations with username, issuer, algorithm, digits, period, last_used_at and a
secret that is base64 of the base32 text of the key (Authelia stores the base32 string)."""

from __future__ import annotations

import base64
import binascii
import datetime
from collections.abc import Iterator
from typing import Any

import yaml

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
        document = yaml.safe_load(data)
    except yaml.YAMLError:
        raise FormatError("the file is not YAML") from None
    entries = document.get("totp_configurations") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FormatError("no totp_configurations list: not an Authelia TOTP export")
    for row, entry in enumerate(entries, 1):
        yield _record(entry, row) if isinstance(entry, dict) else RowError(row, "", "not a map")


def _record(entry: dict[str, Any], row: int) -> Row:
    issuer = str(entry.get("issuer") or "")
    account = str(entry.get("username") or "")
    label = f"{issuer}:{account}" if issuer else account
    try:
        text = base64.b64decode(str(entry.get("secret") or ""), validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        return RowError(row, label, "secret is not base64 of base32 text")
    try:
        secret = decode_secret(text, "base32")
        period = int(entry.get("period") or 30)
        record = ImportRecord(
            row=row,
            issuer=issuer,
            account=account,
            secret=SecretBytes(secret),
            algorithm=str(entry.get("algorithm") or "SHA1").lower(),
            digits=int(entry.get("digits") or 6),
            period=period,
            last_step=_last_step(entry.get("last_used_at"), period),
        )
    except (ValueError, TypeError) as error:
        return RowError(row, label, str(error) if isinstance(error, ValueError) else "bad value")
    return record


def _last_step(value: Any, period: int) -> int | None:
    """Authelia records when a code was last used, not which step it was: the accepted code
    may have come from the next step (its default skew is 1), so that step is the floor."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not isinstance(value, datetime.datetime):
        raise ValueError("last_used_at is not a time")
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return int(value.timestamp()) // period + 1
