"""otpauth:// URIs, one per line (the Key Uri Format of Google Authenticator:
https://github.com/google/google-authenticator/wiki/Key-Uri-Format). Blank lines and lines
starting with # are skipped."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from otpd.core.model import SecretBytes
from otpd.transfer.formats.records import (
    FormatError,
    ImportRecord,
    ParseOptions,
    Row,
    RowError,
    decode_secret,
    split_label,
)

__all__ = ["parse", "parse_uri"]


def parse(data: bytes, options: ParseOptions) -> Iterator[Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError("the file is not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield parse_uri(line, number)


def parse_uri(uri: str, row: int) -> Row:
    """One URI as a record, or a RowError that names what is wrong (never the secret)."""
    parts = urlsplit(uri)
    if parts.scheme.lower() != "otpauth" or parts.netloc.lower() not in ("totp", "hotp"):
        return RowError(row, "", "not an otpauth://totp or otpauth://hotp URI")
    label_issuer, account = split_label(unquote(parts.path.lstrip("/")))
    query = {k.lower(): v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    issuer = query.get("issuer", label_issuer).strip()
    label = f"{issuer}:{account}" if issuer else account
    try:
        secret = decode_secret(query.get("secret", ""), "base32")
        kind = parts.netloc.lower()
        record = ImportRecord(
            row=row,
            issuer=issuer,
            account=account,
            secret=SecretBytes(secret),
            algorithm=query.get("algorithm", "SHA1").lower(),
            digits=_integer(query, "digits", 6),
            period=_integer(query, "period", 30),
            kind=kind,
            counter=_integer(query, "counter", 0) if kind == "hotp" else None,
        )
    except ValueError as error:
        return RowError(row, label, str(error))
    return record


def _integer(query: dict[str, str], name: str, default: int) -> int:
    value = query.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 12:
        raise ValueError(f"{name} is not a whole number")
    return int(value)
