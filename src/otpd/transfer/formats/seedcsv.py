"""The hardware-token seed file many OATH token vendors ship and Microsoft Entra ID reads
(https://learn.microsoft.com/entra/identity/authentication/how-to-mfa-authenticator-hardware):
a header `upn,serial number,secret key,time interval,manufacturer,model` and one token per row,
the secret in base32 or hex. The UPN is the account, the manufacturer the issuer."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

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

_COLUMNS = ("upn", "serial number", "secret key", "time interval", "manufacturer", "model")


def parse(data: bytes, options: ParseOptions) -> Iterator[Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FormatError("the file is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text), skipinitialspace=True)
    header = [h.strip().lower() for h in next(reader, [])]
    if tuple(header[:4]) != _COLUMNS[:4]:
        raise FormatError("the header must start with upn,serial number,secret key,time interval")
    for row, fields in enumerate(reader, 1):
        if not "".join(fields).strip():
            continue
        values = dict(zip(header, (f.strip() for f in fields), strict=False))
        account = values.get("upn", "")
        issuer = values.get("manufacturer", "")
        label = f"{issuer}:{account}" if issuer else account
        if len(fields) < 4:
            yield RowError(row, label, "too few columns")
            continue
        try:
            interval = values["time interval"] or "30"
            if not (interval.isascii() and interval.isdigit()) or len(interval) > 6:
                raise ValueError("time interval is not a whole number of seconds")
            yield ImportRecord(
                row=row,
                issuer=issuer,
                account=account,
                secret=SecretBytes(decode_secret(values["secret key"], options.secret_encoding)),
                period=int(interval),
                serial=values.get("serial number", ""),
            )
        except ValueError as error:
            yield RowError(row, label, str(error))
