"""ConsoleService: the admin console's accounts, sessions and views (issue #16, docs/console.md).

Admins sign in with a password and a TOTP code of their own credential in the reserved tenant
`system`, verified by CredentialService like any other code (replay and throttle rules
included). The console's pages read through here: the paged credential search, the tenants an
admin sees with their counts, and the audit trail (core.insights), held to the admin's tenant.

Passwords are hashed by the console's argon2id (otpd.console.auth, the console extra), handed
in per call as a PasswordHasher so the core stays stdlib-only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from otpd.core import insights
from otpd.core.access_service import AccessService
from otpd.core.audit import AuditQuery, note_actor
from otpd.core.console import (
    ABSOLUTE_TIMEOUT_US,
    IDLE_TIMEOUT_US,
    PAGE_SIZE,
    AdminAccount,
    ConsoleSession,
    CredentialPage,
    SignedIn,
    admin_credential_name,
    hash_cookie,
    new_cookie,
    new_csrf,
    validate_admin_name,
    validate_password,
)
from otpd.core.context import ServiceContext
from otpd.core.credential_service import ADMIN_ISSUER, CredentialService
from otpd.core.errors import InvalidInput, Unauthenticated
from otpd.core.model import SYSTEM_TENANT, Principal, Scope, Tenant, validate_tenant_id
from otpd.core.ports import AuditStore, ConsoleStore, PasswordHasher
from otpd.core.provisioning import build_uri

__all__ = ["Charts", "ConsoleService"]

_MAX_COOKIE = 128  # new_cookie's are 43 characters: anything longer is no session of ours
_MAX_NAME = 64
AUDIT_WINDOW_US = 24 * 3600 * 1_000_000


@dataclass(frozen=True)
class Charts:
    """The overview's charts (docs/console.md#overview-charts)."""

    per_minute: list[dict[str, int]]
    throttled: list[tuple[str, int]]
    drift: list[tuple[str, int]] | None  # None: host-wide, shown to admins of every tenant


class ConsoleService:
    def __init__(
        self,
        store: ConsoleStore,
        audit: AuditStore,
        context: ServiceContext,
        access: AccessService,  # tenants and their API clients
        credentials: CredentialService,  # an admin's TOTP credential, credential counts
        *,
        offsets: Callable[[], list[int]] = list,  # this process's matched step offsets
    ) -> None:
        self._store = store
        self._audit = audit
        self._context = context
        self._access = access
        self._credentials = credentials
        self._offsets = offsets

    # --- admins (the CLI: `otpd admin create`) ------------------------------------------
    def create_admin(
        self, name: str, tenant: str | None, password: str, passwords: PasswordHasher
    ) -> str:
        """Create an admin (of `tenant`, or None: every tenant) and its TOTP credential;
        returns the credential's otpauth URI, shown once."""
        validate_admin_name(name)
        if tenant is not None:
            self._access.get_tenant(validate_tenant_id(tenant))
        validate_password(password)
        if self._store.get_admin(name) is not None:
            raise InvalidInput("name", "an admin with this name exists")
        with self._context.audited(None, "admin.create", name, tenant or "-"):
            self._access.ensure_tenant(SYSTEM_TENANT)
            record, secret = self._credentials.create_admin_credential(name)
            now = self._context.now()
            self._store.insert_admin(
                AdminAccount(name, tenant, passwords.hash(password), record.name, now)
            )
        return build_uri(
            secret=secret,
            label_prefix=ADMIN_ISSUER,
            account_name=name,
            issuer=ADMIN_ISSUER,
            params=record.params,
        )

    # --- sessions ---------------------------------------------------------------------------
    def sign_in(self, name: str, password: str, code: str, passwords: PasswordHasher) -> str | None:
        """Password, then the admin's TOTP code through the core's own verification. Returns
        a new session cookie, or None. A wrong password counts as a failed code on the admin's
        credential, so guessing passwords is throttled too; an unknown name costs the same
        argon2 and HMAC work as a known one."""
        account = self._store.get_admin(name) if len(name) <= _MAX_NAME else None
        password_ok = passwords.check(account.password_hash if account else None, password)
        system = Principal(SYSTEM_TENANT, "console", frozenset({Scope.VERIFY}))
        credential = account.credential if account else admin_credential_name("-")
        result = self._credentials.verify(system, credential, code if password_ok else "")
        if account is None or not password_ok or not result.accepted:
            return None
        cookie = new_cookie()  # always new: a cookie planted before sign-in is never adopted
        now = self._context.now_us()
        self._store.insert_session(
            ConsoleSession(hash_cookie(cookie), account.name, new_csrf(), now, now)
        )
        self._store.delete_sessions_older_than(now - IDLE_TIMEOUT_US)  # keeps the table small
        return cookie

    def signed_in(self, cookie: str | None) -> SignedIn:
        """The admin behind a session cookie (its session renewed), or Unauthenticated."""
        if not cookie or len(cookie) > _MAX_COOKIE:
            raise Unauthenticated("not signed in")
        session = self._store.touch_session(
            hash_cookie(cookie), self._context.now_us(), IDLE_TIMEOUT_US, ABSOLUTE_TIMEOUT_US
        )
        account = self._store.get_admin(session.admin) if session else None
        if session is None or account is None:
            raise Unauthenticated("not signed in")
        admin = SignedIn(account, session)
        note_actor(admin.caller)  # the trail names the admin, also where no principal does
        return admin

    def sign_out(self, cookie: str) -> None:
        self._store.delete_session(hash_cookie(cookie))

    # --- what the pages show ----------------------------------------------------------------
    def search(self, admin: SignedIn, tenant: str, prefix: str, after: str) -> CredentialPage:
        """Credentials by name prefix, keyset-paged (docs/console.md#pages)."""
        admin.principal(tenant)
        return self._store.search_credentials(tenant, prefix, after, PAGE_SIZE)

    def tenants(self, admin: SignedIn) -> list[tuple[Tenant, int]]:
        """The tenants the admin sees (never `system`), with their credential counts."""
        return [
            (t, self._credentials.count_credentials(admin.principal(t.id)))
            for t in self._access.list_tenants()
            if t.id != SYSTEM_TENANT and admin.account.sees(t.id)
        ]

    def tenant_rows(self, admin: SignedIn) -> list[tuple[Tenant, int, int]]:
        """tenants(), with each tenant's API client count."""
        return [(t, n, len(self._access.list_clients(t.id))) for t, n in self.tenants(admin)]

    def charts(self, admin: SignedIn) -> Charts:
        scope = admin.account.tenant  # a tenant admin's charts count its tenant only
        now = self._context.now_us()
        return Charts(
            insights.per_minute(self._audit, scope, None, now),
            insights.throttled_users(self._audit, scope, None, now),
            insights.drift(self._offsets()) if scope is None else None,
        )

    def audit_page(self, admin: SignedIn, query: AuditQuery) -> insights.AuditPage:
        """The trail, newest first; a tenant admin sees its tenant's rows only (403 when it
        asks for another). Without a start, the last 24 hours: an unbounded search would scan
        the whole trail."""
        if query.since_us is None:
            query = replace(query, since_us=self._context.now_us() - AUDIT_WINDOW_US)
        if query.tenant:
            admin.principal(query.tenant)
        if admin.account.tenant is not None:
            query = replace(query, tenant=admin.account.tenant)
        return insights.audit_page(self._audit, query)
