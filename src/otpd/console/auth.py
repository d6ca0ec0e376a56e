"""Passwords, session cookies and CSRF checks for the console (issue #16, docs/console.md).

No service calls here (those go through gate.py): only the small pure pieces around them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = [
    "ABSOLUTE_TIMEOUT_US",
    "COOKIE",
    "IDLE_TIMEOUT_US",
    "check_password",
    "hash_cookie",
    "hash_password",
    "new_cookie",
    "new_csrf",
    "same_origin",
    "tokens_match",
]

COOKIE = "otpd_console"
IDLE_TIMEOUT_US = 15 * 60 * 1_000_000  # OWASP Session Management: 15-30 min idle for admins
ABSOLUTE_TIMEOUT_US = 8 * 3600 * 1_000_000  # a working day, then sign in again

# argon2-cffi's defaults are RFC 9106 §4's second recommended option (argon2id, 64 MiB, t=3).
_HASHER = PasswordHasher()
# A hash of a random password: an unknown admin name costs the same argon2 work as a known one.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(stored: str | None, password: str) -> bool:
    """Always one argon2 verification, whether the admin exists or not."""
    try:
        return _HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_cookie() -> str:
    return secrets.token_urlsafe(32)  # 256 bits; only its SHA-256 is stored


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def hash_cookie(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_match(expected: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(expected.encode(), given.encode())


def same_origin(headers: dict[str, str], origin: str) -> bool:
    """A state-changing request must come from our own pages: Fetch Metadata first (every
    current browser sends Sec-Fetch-Site), else the Origin header (RFC 6454 §7). A request with
    neither is refused: a browser always sends Origin on a POST."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    return headers.get("origin") == origin
