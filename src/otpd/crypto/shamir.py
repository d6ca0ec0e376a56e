"""Shamir shares of the 32-byte seal key (docs/requirements.md#encrypted-at-rest "Shamir",
docs/requirements.md#shamir).

pycryptodome's `Shamir` shares 16-byte secrets over GF(2^128), so the key's two halves are split
with the same k and n; share i carries both halves' points at x = i. A share is written
`i:<64 hex digits>` (index first, like the vendor's `1:...` shares).

Each share's SHA-256 is stored in the seal configuration so a foreign or mistyped share is refused
when it is given, not only at the threshold. Shares are uniformly random 256-bit values, so their
hashes say nothing about the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

from Crypto.Protocol.SecretSharing import Shamir

from otpd.core.errors import InvalidInput, InvalidShare
from otpd.crypto.aead import KEY_BYTES

__all__ = ["MAX_SHARES", "Share", "check_split", "combine", "parse_share", "split"]

MAX_SHARES = 255  # as Vault: indices fit one byte
_HALF = KEY_BYTES // 2
_SHARE = re.compile(r"([0-9]{1,3}):([0-9a-fA-F]{64})")
_MAX_TEXT = 200  # refuse huge input before any regular expression sees it


@dataclass(frozen=True, repr=False)
class Share:
    index: int
    data: bytes  # 32 bytes: the points of both key halves at x = index

    def text(self) -> str:
        return f"{self.index}:{self.data.hex()}"

    def check(self) -> str:
        """The SHA-256 stored in seal_config to recognise this share."""
        return hashlib.sha256(self.text().encode("ascii")).hexdigest()

    def __repr__(self) -> str:
        return f"Share({self.index}, ***)"


def check_split(shares: int, threshold: int) -> None:
    if type(shares) is not int or not 1 <= shares <= MAX_SHARES:
        raise InvalidInput("shares", f"must be from 1 to {MAX_SHARES}")
    if type(threshold) is not int or not 1 <= threshold <= shares:
        raise InvalidInput("threshold", "must be from 1 to the number of shares")
    if threshold == 1 and shares > 1:
        # Every share would be the whole key: Vault refuses this too.
        raise InvalidInput("threshold", "must be at least 2 when there are several shares")


def split(key: bytes, shares: int, threshold: int) -> list[Share]:
    check_split(shares, threshold)
    low = Shamir.split(threshold, shares, key[:_HALF])
    high = Shamir.split(threshold, shares, key[_HALF:])
    # Both calls number their shares 1..n in order, so the i-th items belong together.
    return [Share(i, a + b) for (i, a), (_, b) in zip(low, high, strict=True)]


def combine(shares: Sequence[Share]) -> bytes:
    low = Shamir.combine([(s.index, s.data[:_HALF]) for s in shares])
    high = Shamir.combine([(s.index, s.data[_HALF:]) for s in shares])
    return bytes(low) + bytes(high)


def parse_share(text: str, checks: Sequence[str]) -> Share:
    """The share in `text` if it is one of this server's; InvalidShare otherwise.
    Messages never repeat the input."""
    if not isinstance(text, str) or len(text) > _MAX_TEXT:
        raise InvalidShare("malformed share")
    match = _SHARE.fullmatch(text.strip())
    if match is None:
        raise InvalidShare("malformed share")
    index = int(match[1])
    if not 1 <= index <= len(checks):
        raise InvalidShare("share index out of range")
    share = Share(index, bytes.fromhex(match[2]))
    if not hmac.compare_digest(share.check(), checks[index - 1]):
        raise InvalidShare("share does not belong to this server")
    return share
