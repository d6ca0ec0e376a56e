"""Passwords, the session cookie's name and the same-origin and CSRF checks for the console
(issue #16, docs/console.md). The small pure pieces around the service calls in gate.py; the
sessions themselves are core.console_service's."""

from __future__ import annotations

import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["COOKIE", "PASSWORDS", "Argon2Passwords", "same_origin", "tokens_match"]

COOKIE = "otpd_console"


class Argon2Passwords:
    """core.ports.PasswordHasher with argon2-cffi's defaults: RFC 9106 §4's second
    recommended option (argon2id, 64 MiB, t=3)."""

    def __init__(self) -> None:
        self._hasher = PasswordHasher()
        # A hash of a random password: an unknown admin costs the same argon2 work as a known one.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def check(self, stored: str | None, password: str) -> bool:
        """Always one argon2 verification, whether the admin exists or not."""
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


PASSWORDS = Argon2Passwords()


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
