"""What every format parser yields: ImportRecord for a usable row, RowError for a refused one.

Parsers are pure: bytes in, records out. They check only what their format says; the rules of
otpd (secret length, algorithms, digits, names) are checked once, in otpd.transfer.importer.
No message here ever holds a secret, whole or in part.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from otpd.core.model import SecretBytes

__all__ = [
    "FormatError",
    "ImportRecord",
    "ParseOptions",
    "Row",
    "RowError",
    "decode_secret",
    "split_label",
]

_BASE32 = re.compile(r"[A-Z2-7]+=*")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


class FormatError(ValueError):
    """The whole file is unusable (truncated, malformed, wrong key). Nothing is imported."""


@dataclass(frozen=True)
class ParseOptions:
    key: bytes | None = None  # --key-file contents: a PSKC password or pre-shared key
    secret_encoding: str = "auto"  # noqa: S105 (auto, base32 or hex: a choice, not a secret)


@dataclass(frozen=True)
class ImportRecord:
    """One credential as the old system held it. Times in seconds, steps as counters."""

    row: int  # 1-based position in the file, for the report
    issuer: str
    account: str
    secret: SecretBytes
    algorithm: str = "sha1"  # lower case, as the source named it (md5 stays md5: refused later)
    digits: int = 6
    period: int = 30
    t0: int = 0
    last_step: int | None = None  # the last time step the old server accepted, if it says
    drift: int = 0  # seconds the token's clock runs ahead of the server's
    kind: str = "totp"  # or "hotp"
    counter: int | None = None  # HOTP moving factor
    serial: str = ""
    window: int | None = None  # the old server's forward window in steps, if the file says

    @property
    def label(self) -> str:
        return f"{self.issuer}:{self.account}" if self.issuer else self.account


@dataclass(frozen=True)
class RowError:
    row: int
    label: str
    reason: str


Row = ImportRecord | RowError


def split_label(label: str) -> tuple[str, str]:
    """'Issuer:account' -> ('Issuer', 'account'); 'account' -> ('', 'account') (the Key Uri
    Format lets apps drop spaces after the colon)."""
    issuer, sep, account = label.partition(":")
    if not sep:
        return "", label.strip()
    return issuer.strip(), account.strip()


def decode_secret(text: str, encoding: str = "auto") -> bytes:
    """A secret written as base32 (RFC 4648 §6, padding optional, any case, spaces ignored)
    or hex. `auto` decides by alphabet and refuses text that reads both ways.
    ValueError with a message that never quotes the secret."""
    clean = "".join(text.split())
    if encoding == "auto":
        upper = clean.upper().rstrip("=")
        is_hex = bool(_HEX.fullmatch(clean))
        is_b32 = bool(_BASE32.fullmatch(upper))
        if is_hex and is_b32:
            # Exporters write hex in lower case and base32 in upper case (RFC 4648 §6).
            if clean.lower() != clean.upper() and clean in (clean.lower(), clean.upper()):
                encoding = "hex" if clean == clean.lower() else "base32"
            else:
                raise ValueError("secret reads as both hex and base32: pass --secret-encoding")
        else:
            encoding = "hex" if is_hex else "base32"
    if encoding == "hex":
        try:
            return binascii.unhexlify(clean)
        except (binascii.Error, ValueError):
            raise ValueError("secret is not valid hex") from None
    upper = clean.upper().rstrip("=")
    if not _BASE32.fullmatch(upper):
        raise ValueError("secret is not valid base32")
    try:
        return base64.b32decode(upper + "=" * (-len(upper) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("secret is not valid base32") from None
