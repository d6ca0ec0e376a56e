"""privacyIDEA's token janitor exports (`pi-tokenjanitor find ... export --format yaml|csv`,
privacyidea/cli/pitokenjanitor/utils/findtokens.py in privacyIDEA 3.14).

YAML: a list of token dicts (serial, type, otpkey in hex or, with --b32, base32, otplen,
counter, info_list with timeStep, timeShift in seconds, timeWindow and hashlib, owner as
login@realm or n/a). For TOTP, `counter` is the last accepted time step (totptoken.check_otp
stores the matched step with set_otp_count); timeWindow, the seconds it searches either side,
is the old server's forward window for the replay floor.
CSV: `owner, serial, otpkey, type, otplen[, timeStep]` without a header and without the
counter, so a CSV carries no replay state.
"""

from __future__ import annotations

import csv
import io
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

ISSUER = "privacyIDEA"


def parse(data: bytes, options: ParseOptions) -> Iterator[Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError("the file is not UTF-8 text") from None
    if text.lstrip().startswith(("-", "[")):
        yield from _yaml(text, options)
    else:
        yield from _csv(text, options)


def _yaml(text: str, options: ParseOptions) -> Iterator[Row]:
    try:
        tokens = yaml.safe_load(text)
    except yaml.YAMLError:
        raise FormatError("the file is neither privacyIDEA YAML nor CSV") from None
    if not isinstance(tokens, list):
        raise FormatError("privacyIDEA YAML must be a list of tokens")
    for row, token in enumerate(tokens, 1):
        if not isinstance(token, dict):
            yield RowError(row, "", "not a token")
            continue
        info = token.get("info_list") or {}
        yield _record(
            row,
            owner=str(token.get("owner") or "n/a"),
            serial=str(token.get("serial") or ""),
            otpkey=str(token.get("otpkey") or ""),
            kind=str(token.get("type") or ""),
            digits=token.get("otplen", 6),
            info=info if isinstance(info, dict) else {},
            counter=token.get("counter"),
            options=options,
        )


def _csv(text: str, options: ParseOptions) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    for row, fields in enumerate(reader, 1):
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) not in (5, 6):
            yield RowError(row, "", "expected owner, serial, otpkey, type, otplen[, timeStep]")
            continue
        owner, serial, otpkey, kind, digits = (f.strip() for f in fields[:5])
        info = {"timeStep": fields[5].strip()} if len(fields) == 6 else {}
        yield _record(row, owner, serial, otpkey, kind, digits, info, counter=None, options=options)


def _record(
    row: int,
    owner: str,
    serial: str,
    otpkey: str,
    kind: str,
    digits: Any,
    info: dict[str, Any],
    counter: Any,
    options: ParseOptions,
) -> Row:
    account = serial if owner in ("", "n/a") else owner
    label = f"{ISSUER}:{account}"
    kind = kind.lower()
    if kind not in ("totp", "hotp"):
        return RowError(row, label, f"token type {kind or 'unknown'} is not TOTP or HOTP")
    try:
        secret = decode_secret(otpkey, options.secret_encoding)
        step = _number(info.get("timeStep", 30), "timeStep")
        counter_value = None if counter is None else _number(counter, "counter")
        record = ImportRecord(
            row=row,
            issuer=ISSUER,
            account=account,
            secret=SecretBytes(secret),
            algorithm=str(info.get("hashlib") or "sha1").lower(),
            digits=_number(digits, "otplen"),
            period=step,
            last_step=counter_value if kind == "totp" else None,
            drift=_number(info.get("timeShift", 0), "timeShift") if kind == "totp" else 0,
            kind=kind,
            counter=counter_value if kind == "hotp" else None,
            serial=serial,
            window=_window(info, step),
        )
    except ValueError as error:
        return RowError(row, label, str(error))
    return record


def _window(info: dict[str, Any], step: int) -> int | None:
    """timeWindow: the seconds privacyIDEA searches either side (totptoken.check_otp), as
    steps, rounded up so the replay floor covers all of it."""
    if "timeWindow" not in info or step <= 0:
        return None
    return max(0, -(-_number(info["timeWindow"], "timeWindow") // step))


def _number(value: Any, name: str) -> int:
    """privacyIDEA keeps token info as strings ("30", "-17.0")."""
    try:
        return int(float(str(value).strip()))
    except (ValueError, OverflowError):
        raise ValueError(f"{name} is not a number") from None
