"""The admin console's records, small rules and ports (issue #16, docs/console.md): admins, their
sessions, the signed-in admin a request acts as, session cookies, a page of credentials, and
the ConsoleStore and PasswordHasher protocols (core.ports re-exports them). Pure data and
stdlib; core.console_service holds the service, otpd.console the pages."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from otpd.core.errors import Forbidden, InvalidInput
from otpd.core.model import CredentialRecord, Principal, Scope, validate_tenant_id

__all__ = [
    "ABSOLUTE_TIMEOUT_US",
    "ADMIN_NAME",
    "IDLE_TIMEOUT_US",
    "MIN_PASSWORD",
    "PAGE_SIZE",
    "AdminAccount",
    "ConsoleSession",
    "ConsoleStore",
    "CredentialPage",
    "PasswordHasher",
    "SignedIn",
    "admin_credential_name",
    "hash_cookie",
    "new_cookie",
    "new_csrf",
    "validate_admin_name",
    "validate_password",
]

ADMIN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
PAGE_SIZE = 50
MIN_PASSWORD = 12
IDLE_TIMEOUT_US = 15 * 60 * 1_000_000  # OWASP Session Management: 15-30 min idle for admins
ABSOLUTE_TIMEOUT_US = 8 * 3600 * 1_000_000  # a working day, then sign in again
# What an admin may do in a tenant it sees: everything but seal (sealing is host-wide: only an
# admin of every tenant may, through the seal service).
_ADMIN_SCOPES = frozenset(Scope) - {Scope.SEAL}


def validate_admin_name(name: object) -> str:
    if not isinstance(name, str) or not ADMIN_NAME.fullmatch(name):
        raise InvalidInput("name", "must match [a-z0-9][a-z0-9._-]{0,62}")
    return name


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"must be at least {MIN_PASSWORD} characters")
    return password


def admin_credential_name(admin: str) -> str:
    """The admin's TOTP credential, in the reserved tenant `system` (no API client there can
    read or verify credentials: its clients hold scope seal only)."""
    return "console-admin." + admin


def new_cookie() -> str:
    return secrets.token_urlsafe(32)  # 256 bits; only its SHA-256 is stored


def new_csrf() -> str:
    return secrets.token_urlsafe(32)


def hash_cookie(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("utf-8", "surrogatepass")).hexdigest()


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
class SignedIn:
    """A signed-in admin, as one request sees it."""

    account: AdminAccount
    session: ConsoleSession

    @property
    def caller(self) -> str:
        """Who the audit trail names for this admin's actions."""
        return "console:" + self.account.name

    def principal(self, tenant_id: str) -> Principal:
        """A principal for `tenant_id`, or Forbidden (403) when this admin may not see it."""
        validate_tenant_id(tenant_id)
        if not self.account.sees(tenant_id):
            raise Forbidden("not an admin of this tenant")
        return Principal(tenant=tenant_id, client=self.caller, scopes=_ADMIN_SCOPES)


@dataclass(frozen=True)
class CredentialPage:
    """One page of a keyset-paged listing: `after` names the last row shown, never an offset."""

    rows: list[CredentialRecord]
    next_after: str | None  # the name to continue after, None on the last page


class ConsoleStore(Protocol):
    """Admins, their sessions and the paged credential search of the admin console (issue
    #16). A separate port: only core.console_service uses it."""

    def insert_admin(self, admin: AdminAccount) -> None:
        """Raises AlreadyExists."""
        ...

    def get_admin(self, name: str) -> AdminAccount | None: ...

    def insert_session(self, session: ConsoleSession) -> None: ...

    def touch_session(
        self, session_hash: str, now_us: int, idle_us: int, absolute_us: int
    ) -> ConsoleSession | None:
        """The session if neither timeout has passed at now_us (and mark it seen then), else
        delete it and return None. One atomic step."""
        ...

    def delete_session(self, session_hash: str) -> None: ...

    def delete_sessions_older_than(self, seen_before_us: int) -> int: ...

    def search_credentials(
        self, tenant_id: str, prefix: str, after: str, limit: int
    ) -> CredentialPage:
        """Credentials whose name starts with `prefix`, in name order, after the name `after`:
        a range on the (tenant, name) index, never an OFFSET."""
        ...


class PasswordHasher(Protocol):
    """Console admin passwords (the argon2id implementation is otpd.console.auth's: the
    console extra)."""

    def hash(self, password: str) -> str: ...

    def check(self, stored: str | None, password: str) -> bool:
        """Always the same work, whether `stored` is None (no such admin) or not."""
        ...
