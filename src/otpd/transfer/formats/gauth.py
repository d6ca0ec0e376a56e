"""Google Authenticator's export: otpauth-migration://offline?data=BASE64, one QR code (one
line) per batch. The payload is a protobuf MigrationPayload (the .proto is in
tests/transfer/google_auth.proto); the format is small enough that a wire-format reader
(https://protobuf.dev/programming-guides/encoding/) avoids a runtime dependency."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from otpd.core.model import SecretBytes
from otpd.transfer.formats.records import (
    FormatError,
    ImportRecord,
    ParseOptions,
    Row,
    RowError,
    split_label,
)

__all__ = ["Batch", "decode_payload", "parse"]

_ALGORITHMS = {0: "sha1", 1: "sha1", 2: "sha256", 3: "sha512", 4: "md5"}
_DIGITS = {0: 6, 1: 6, 2: 8}
_KINDS = {0: "totp", 1: "hotp", 2: "totp"}  # unspecified: the app treats it as TOTP
_MAX_PAYLOAD = 1 << 20


@dataclass
class Entry:
    secret: bytes = b""
    name: str = ""
    issuer: str = ""
    algorithm: int = 0
    digits: int = 0
    kind: int = 0
    counter: int = 0


@dataclass
class Batch:
    entries: list[Entry] = field(default_factory=list)
    version: int = 0
    batch_size: int = 0
    batch_index: int = 0
    batch_id: int = 0


def parse(data: bytes, options: ParseOptions) -> Iterator[Row]:
    batches = list(_batches(data))
    _check_complete(batches)
    row = 0
    for batch in batches:
        for entry in batch.entries:
            row += 1
            yield _record(entry, row)


def _batches(data: bytes) -> Iterator[Batch]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError("the file is not UTF-8 text") from None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = urlsplit(line)
        if parts.scheme != "otpauth-migration" or parts.netloc != "offline":
            raise FormatError(f"line {number} is not an otpauth-migration://offline URI")
        values = parse_qs(parts.query).get("data")
        if not values:
            raise FormatError(f"line {number} has no data parameter")
        try:
            # parse_qs reads an unescaped '+' as a space; base64 has no spaces.
            payload = base64.b64decode(values[0].replace(" ", "+"), validate=True)
        except (binascii.Error, ValueError):
            raise FormatError(f"line {number}: data is not valid base64") from None
        try:
            yield decode_payload(payload)
        except FormatError as error:
            raise FormatError(f"line {number}: {error}") from None


def _check_complete(batches: list[Batch]) -> None:
    """A multi-QR export is only whole with every batch: say which is missing."""
    seen: dict[int, set[int]] = {}
    sizes: dict[int, int] = {}
    for batch in batches:
        if batch.batch_size > 1:
            seen.setdefault(batch.batch_id, set()).add(batch.batch_index)
            sizes[batch.batch_id] = batch.batch_size
    for batch_id, indexes in seen.items():
        missing = sorted(set(range(sizes[batch_id])) - indexes)
        if missing:
            listed = ", ".join(str(i + 1) for i in missing)
            raise FormatError(f"export {batch_id} lacks QR code(s) {listed} of {sizes[batch_id]}")


def _record(entry: Entry, row: int) -> Row:
    label_issuer, account = split_label(entry.name)
    issuer = entry.issuer or label_issuer
    label = f"{issuer}:{account}" if issuer else account
    if entry.algorithm not in _ALGORITHMS or entry.digits not in _DIGITS:
        return RowError(row, label, "unknown algorithm or digit count")
    if entry.kind not in _KINDS:
        return RowError(row, label, "unknown OTP type")
    kind = _KINDS[entry.kind]
    return ImportRecord(
        row=row,
        issuer=issuer,
        account=account,
        secret=SecretBytes(entry.secret),
        algorithm=_ALGORITHMS[entry.algorithm],
        digits=_DIGITS[entry.digits],
        period=30,  # the export has no period: the app only makes 30-second codes
        kind=kind,
        counter=entry.counter if kind == "hotp" else None,
    )


# --- protobuf wire format -------------------------------------------------------------------
def decode_payload(payload: bytes) -> Batch:
    if len(payload) > _MAX_PAYLOAD:
        raise FormatError("payload too large")
    batch = Batch()
    for number, value in _fields(payload):
        if number == 1 and isinstance(value, bytes):
            batch.entries.append(_entry(value))
        elif number in (2, 3, 4, 5) and isinstance(value, int):
            name = {2: "version", 3: "batch_size", 4: "batch_index", 5: "batch_id"}[number]
            setattr(batch, name, _int32(value))
        elif number in (1, 2, 3, 4, 5):
            raise FormatError("payload field has the wrong wire type")
    return batch


def _entry(data: bytes) -> Entry:
    entry = Entry()
    for number, value in _fields(data):
        if number == 1 and isinstance(value, bytes):
            entry.secret = value
        elif number in (2, 3) and isinstance(value, bytes):
            try:
                setattr(entry, "name" if number == 2 else "issuer", value.decode("utf-8"))
            except UnicodeDecodeError:
                raise FormatError("a name is not UTF-8") from None
        elif number in (4, 5, 6) and isinstance(value, int):
            setattr(entry, {4: "algorithm", 5: "digits", 6: "kind"}[number], _int32(value))
        elif number == 7 and isinstance(value, int):
            entry.counter = value - (1 << 64) if value >= 1 << 63 else value
        elif number in range(1, 8):
            raise FormatError("entry field has the wrong wire type")
    return entry


def _int32(value: int) -> int:
    """int32 and enum values are sent as 64-bit varints; negatives as two's complement."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _fields(data: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise FormatError("field number 0")
        if wire == 0:
            value, pos = _varint(data, pos)
            yield number, value
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise FormatError("truncated payload")
            yield number, data[pos : pos + length]
            pos += length
        elif wire in (1, 5):  # fixed64 / fixed32: no such field in this message; skip
            pos += 8 if wire == 1 else 4
            if pos > len(data):
                raise FormatError("truncated payload")
        else:
            raise FormatError("unsupported wire type")


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data):
            raise FormatError("truncated payload")
        if shift >= 64:
            raise FormatError("varint too long")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
