"""The admin console's records (issue #16, docs/console.md): admins, their sessions and a page of
credentials. Pure data; the rules live in otpd.console.gate and the core verification."""

from __future__ import annotations

import re
from dataclasses import dataclass

from otpd.core.errors import InvalidInput
from otpd.core.model import CredentialRecord

__all__ = [
    "ADMIN_NAME",
    "PAGE_SIZE",
    "AdminAccount",
    "ConsoleSession",
    "CredentialPage",
    "admin_credential_name",
    "validate_admin_name",
]

ADMIN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
PAGE_SIZE = 50


def validate_admin_name(name: object) -> str:
    if not isinstance(name, str) or not ADMIN_NAME.fullmatch(name):
        raise InvalidInput("name", "must match [a-z0-9][a-z0-9._-]{0,62}")
    return name


def admin_credential_name(admin: str) -> str:
    """The admin's TOTP credential, in the reserved tenant `system` (no API client there can
    read or verify credentials: its clients hold scope seal only)."""
    return "console-admin." + admin


@dataclass(frozen=True)
class AdminAccount:
    name: str
    tenant: str | None  # None: every tenant
    password_hash: str  # argon2id, PHC string format
    credential: str  # its TOTP credential's name in the tenant `system`
    created_at: int = 0

    def sees(self, tenant: str) -> bool:
        return self.tenant is None or self.tenant == tenant


@dataclass(frozen=True)
class ConsoleSession:
    session_hash: str  # SHA-256 hex of the cookie value; the cookie itself is never stored
    admin: str
    csrf: str
    created_at_us: int
    seen_at_us: int


@dataclass(frozen=True)
class CredentialPage:
    """One page of a keyset-paged listing: `after` names the last row shown, never an offset."""

    rows: list[CredentialRecord]
    next_after: str | None  # the name to continue after, None on the last page
