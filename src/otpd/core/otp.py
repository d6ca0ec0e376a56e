"""HOTP (RFC 4226) and TOTP (RFC 6238) as pure functions.

Time comes in as an integer from the caller; nothing here reads a clock.
"""

from __future__ import annotations

import hmac

from otpd.core.model import Algorithm

__all__ = ["MAX_COUNTER", "hotp", "hotp_codes", "totp", "totp_step"]

MAX_COUNTER = 2**64 - 1  # RFC 4226 §5.1: C is an 8-byte counter


def _digest(algorithm: Algorithm) -> str:
    return algorithm.value  # hashlib names equal our enum values (sha1, sha256, ...)


def _truncate(mac: bytes, digits: int) -> str:
    """RFC 4226 §5.3 dynamic truncation of an HMAC value to a `digits`-digit code."""
    offset = mac[-1] & 0x0F
    binary = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(binary % 10**digits).zfill(digits)


def hotp(
    secret: bytes, counter: int, digits: int = 6, algorithm: Algorithm = Algorithm.SHA1
) -> str:
    """RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, mod 10^digits.

    The key is used exactly as given (RFC 6238 §4 via docs/requirements.md#rfc-exact: no padding or
    truncation).
    """
    if not 0 <= counter <= MAX_COUNTER:
        raise ValueError("counter out of range")
    mac = hmac.new(secret, counter.to_bytes(8, "big"), _digest(algorithm)).digest()
    return _truncate(mac, digits)


def hotp_codes(
    secret: bytes, counters: range, digits: int, algorithm: Algorithm
) -> list[tuple[int, str]]:
    """Codes for several counters with one HMAC key schedule (the verify hot path)."""
    base = hmac.new(secret, digestmod=_digest(algorithm))
    out: list[tuple[int, str]] = []
    for counter in counters:
        if not 0 <= counter <= MAX_COUNTER:
            continue
        mac = base.copy()
        mac.update(counter.to_bytes(8, "big"))
        out.append((counter, _truncate(mac.digest(), digits)))
    return out


def totp_step(now: int, period: int, t0: int = 0) -> int:
    """RFC 6238 §4.2: T = floor((now - T0) / X). Python ints are unbounded, so 2038 is no limit."""
    if period < 1:
        raise ValueError("period must be at least 1 second")
    return (now - t0) // period


def totp(
    secret: bytes,
    now: int,
    period: int = 30,
    digits: int = 6,
    algorithm: Algorithm = Algorithm.SHA1,
) -> str:
    return hotp(secret, totp_step(now, period), digits, algorithm)
