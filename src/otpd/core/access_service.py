"""AccessService: who may call otpd, and the seal. The base of CredentialService.

Tenants and API clients (administration, for the CLI), authentication by API key, HTTP Basic,
tenant rules (PhenixID) and Strongbox bearer tokens, and unseal/seal. Split from service.py
to keep each module short; adapters still call the one CredentialService.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from otpd.core import access, tenants
from otpd.core.audit import AuditEvent, Events, current_context, note_caller
from otpd.core.client_cache import ClientCache
from otpd.core.clients import ClientAdmin, checked_scopes
from otpd.core.errors import (
    AlreadyExists,
    Forbidden,
    NotFound,
    OtpdError,
    Sealed,
    Unauthenticated,
)
from otpd.core.inflight import InFlight
from otpd.core.model import (
    SYSTEM_TENANT,
    TENANT_ID,
    ApiClient,
    PhenixAuth,
    Principal,
    Scope,
    SealStatus,
    Tenant,
    validate_tenant_id,
)
from otpd.core.policy import ThrottlePolicy
from otpd.core.ports import Clock, CredentialStore, Sealer
from otpd.core.tokens import (
    IssuedToken,
    TokenPolicy,
    new_token_record,
    renewed_expiry,
    resolve_token,
)

__all__ = ["AccessService", "LogEvents", "audit_log"]

# docs/requirements.md#audit: every attempt with its true outcome (the APIs answer without an
# oracle, docs/requirements.md#no-oracle). Never the
# submitted code or any secret (docs/requirements.md#no-secret-leaves); names are validated to a
# safe alphabet before storage.
audit_log = logging.getLogger("otpd.audit")


class LogEvents:
    """The default listener: one `otpd.audit` log line per event (the database trail and the
    metrics are added in otpd.bootstrap)."""

    def emit(self, event: AuditEvent) -> None:
        context = current_context()
        audit_log.info(
            "%s tenant=%s caller=%s target=%s outcome=%s request_id=%s",
            event.action,
            event.tenant,
            event.caller,
            event.target,
            event.outcome,
            context.request_id,
        )


def outcome_of(error: BaseException) -> str:
    """An audit outcome for a refused action: the error's kind, never its text."""
    return type(error).__name__.lower()


class AccessService(ClientAdmin):  # + list, revoke, rotate, scopes (core.clients)
    def __init__(
        self,
        store: CredentialStore,
        sealer: Sealer,
        clock: Clock,
        *,
        label_prefix: str,  # the otpauth label prefix: configuration (settings), no default here
        throttle: ThrottlePolicy | None = None,
        tokens: TokenPolicy | None = None,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
        client_cache: ClientCache | None = None,
        events: Events | None = None,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.throttle = throttle or ThrottlePolicy()
        self.label_prefix = label_prefix
        self.tokens = tokens or TokenPolicy()
        self._dummy_blob: bytes | None = None
        self._random_bytes = random_bytes
        self._in_flight = InFlight()  # verifications of this process, which seal() waits for
        self._touched: dict[tuple[str, str], int] = {}  # coarse last-used (core.clients)
        self._client_cache = client_cache or ClientCache()  # key hash -> client, for 0.5 s at most
        self.events: Events = events or LogEvents()

    # --- audit (issue #13): every action with its true outcome, never a code or secret ----
    def emit(
        self,
        action: str,
        outcome: str,
        *,
        tenant: str = "-",
        caller: str | None = None,
        target: str = "-",
        offset: int | None = None,
    ) -> None:
        who = caller if caller is not None else current_context().caller
        if tenant != "-":
            note_caller(tenant, who)
        self.events.emit(AuditEvent(action, outcome, tenant, who, target, offset))

    @contextmanager
    def audited(
        self, principal: Principal | None, action: str, target: str = "-", tenant: str = "-"
    ) -> Iterator[None]:
        """Report the block as `action`: "ok", or the kind of the domain error it raised."""
        tenant = principal.tenant if principal else tenant
        caller = principal.client if principal else None
        try:
            yield
        except OtpdError as error:
            self.emit(action, outcome_of(error), tenant=tenant, caller=caller, target=target)
            raise
        self.emit(action, "ok", tenant=tenant, caller=caller, target=target)

    # --- time ----------------------------------------------------------------------------
    def now(self) -> int:
        return self.clock.now_us() // 1_000_000

    # --- administration (CLI; no principal: whoever can read the data directory is root) --
    def create_tenant(self, tenant_id: str, phenixid_auth: PhenixAuth = PhenixAuth.BASIC) -> Tenant:
        with self.audited(None, "tenant.create", tenant_id, tenant_id):
            tenant = Tenant(id=tenant_id, phenixid_auth=phenixid_auth, created_at=self.now())
            self.store.create_tenant(tenant)
        return tenant

    def ensure_tenant(self, tenant_id: str) -> Tenant:
        existing = self.store.get_tenant(validate_tenant_id(tenant_id))
        if existing is not None:
            return existing
        try:
            return self.create_tenant(tenant_id)
        except AlreadyExists:  # created by someone else meanwhile
            tenant = self.store.get_tenant(tenant_id)
            assert tenant is not None
            return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        tenant = self.store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return tenant

    def update_tenant(self, tenant: Tenant) -> None:
        with self.audited(None, "tenant.update", tenant.id, tenant.id):
            self.store.update_tenant(tenant)

    def create_client(
        self, tenant_id: str, name: str, scopes: Iterable[Scope]
    ) -> tuple[ApiClient, str]:
        """Create an API client (and its tenant if new). Returns the key, shown once."""
        scope_set = checked_scopes(tenant_id, scopes)
        key = access.new_key()
        client = ApiClient(
            tenant=tenant_id,
            name=name,
            scopes=scope_set,
            key_hash=access.hash_key(key),
            created_at=self.now(),
        )
        self.ensure_tenant(tenant_id)
        with self.audited(None, "client.create", name, tenant_id):
            self.store.create_client(client)
        return client, key

    # --- authentication ------------------------------------------------------------------
    def authenticate(self, key: str, scope: Scope | None = None) -> Principal:
        """API key -> principal. Raises Unauthenticated for any wrong key (one answer), then
        Forbidden without `scope`: the scope is checked here, once, before any body is parsed
        (a client without the scope learns nothing about the body rules: 403 before 400)."""
        return _with_scope(_principal(self._client_for_key(key)[0]), scope)

    def _client_for_key(self, key: object) -> tuple[ApiClient, str]:
        """The client a key opens now (its current key, or a rotated-out one in its grace),
        and the key's hash."""
        if not isinstance(key, str) or len(key) != access.KEY_LENGTH:
            raise Unauthenticated("bad key")
        key_hash = access.hash_key(key)
        client = self._client_cache.get(key_hash, self.store.find_client_by_key_hash)
        now_us = self.clock.now_us()
        if client is None or not access.key_is_live(client, key_hash, now_us):
            raise Unauthenticated("bad key")
        self._note_use(client, now_us)
        return client, key_hash

    def authenticate_basic(self, name: object, key: object) -> Principal:
        """HTTP Basic `<client name>:<key>` (PhenixID). A wrong name, key or either missing all
        give the same Unauthenticated."""
        if not isinstance(name, str) or not isinstance(key, str):
            raise Unauthenticated("bad basic credentials")
        principal = self.authenticate(key)
        if not hmac.compare_digest(principal.client.encode(), name.encode("utf-8", "replace")):
            raise Unauthenticated("bad basic credentials")
        return principal

    def admit_caller(self, tenant_id: str, caller: tenants.Caller, operation: str) -> Principal:
        """A PhenixID caller of `operation` in the tenant named by its header: the tenant's
        settings decide (core.tenants.admit); the principal has scope verify there only."""
        known = isinstance(tenant_id, str) and TENANT_ID.fullmatch(tenant_id) is not None
        tenant = self.store.get_tenant(tenant_id) if known else None
        try:
            return tenants.admit(tenant, caller, operation, self.authenticate_basic)
        except (
            Forbidden,
            Unauthenticated,
        ) as error:  # the true reason, not the answer (docs/requirements.md#audit)
            self.emit("admit", outcome_of(error), tenant=tenant.id if tenant else "-")
            raise

    # --- bearer tokens (Strongbox) -------------------------------------------------------
    def login(self, name: object, key: object, tenant: object = None) -> IssuedToken:
        """Client name + key (+ optional tenant) -> a bearer token. Wrong name, key or tenant
        all give the same Unauthenticated (docs/api-strongbox.md)."""
        try:
            principal, key_hash = self._login_principal(name, key, tenant)
        except Unauthenticated:
            self.emit("login", "failed", caller="-")
            raise
        with self.audited(principal, "login"):
            # The token records the key that logged in: it dies with that key (core.tokens).
            issued = new_token_record(principal, self.clock.now_us(), self.tokens, key_hash)
            self.store.insert_token(issued.record)
        return issued

    def _login_principal(self, name: object, key: object, tenant: object) -> tuple[Principal, str]:
        if not isinstance(name, str) or not isinstance(key, str):
            raise Unauthenticated("bad login")
        client, key_hash = self._client_for_key(key)
        principal = _principal(client)
        same_name = hmac.compare_digest(principal.client.encode(), name.encode("utf-8", "replace"))
        if not same_name or tenant not in (None, principal.tenant):
            raise Unauthenticated("bad login")
        return principal, key_hash

    def authenticate_token(self, token: str | None, scope: Scope | None = None) -> Principal:
        """A Strongbox bearer token (None: none was sent) -> principal with `scope`."""
        if token is None:
            raise Unauthenticated("no bearer token")
        now_us = self.clock.now_us()
        client = resolve_token(self.store, token, now_us)[1]
        self._note_use(client, now_us)
        return _with_scope(_principal(client), scope)

    def authenticate_bearer(self, token: str | None, scope: Scope | None) -> Principal:
        """The system paths' bearer: an API key (40 characters, as `otpd seal` sends) or a
        Strongbox login token."""
        if token is not None and len(token) == access.KEY_LENGTH:
            return self.authenticate(token, scope)
        return self.authenticate_token(token, scope)

    def refresh_token(self, token: str, increment_s: int | None = None) -> IssuedToken:
        now_us = self.clock.now_us()
        record = resolve_token(self.store, token, now_us)[0]
        expires = renewed_expiry(record, now_us, increment_s, self.tokens)
        if not self.store.renew_token(record.token_hash, now_us, expires):
            raise Unauthenticated("bad token")
        return IssuedToken(token, replace(record, renewed_at_us=now_us, expires_at_us=expires))

    # --- sealing (docs/requirements.md#encrypted-at-rest): shares are the authority, so unsealing
    # needs no principal ---
    def seal_status(self) -> SealStatus:
        return self.sealer.status()

    def submit_unseal_share(self, share: str) -> SealStatus:
        with self.audited(None, "unseal.share"):
            status = self.sealer.submit_share(share)
        if not status.sealed:
            self.emit("unseal", "ok")
        return status

    def reset_unseal(self, nonce: str) -> SealStatus:
        return self.sealer.reset_progress(nonce)

    def seal(self, principal: Principal) -> SealStatus:
        with self.audited(principal, "seal"):
            access.require(principal, Scope.SEAL)
            with self._in_flight.exclusive():  # a verification under way commits wholly first
                self.sealer.seal()
        return self.sealer.status()

    # --- housekeeping ----------------------------------------------------------------------
    def sweep_expired(self) -> int:
        """Delete expired bearer tokens and enrolment tickets (the web app runs this every few
        minutes; lookups check expiry themselves, so this only keeps the tables small)."""
        now_us = self.clock.now_us()
        tokens = self.store.delete_expired_tokens(now_us)
        return tokens + self.store.delete_expired_enrolment_tickets(now_us)

    # --- helpers ---------------------------------------------------------------------------
    def _writable_tenant(self, principal: Principal) -> None:
        if principal.tenant == SYSTEM_TENANT:
            raise Forbidden("the system tenant holds no credentials")

    def _require_unsealed(self) -> None:
        if self.sealer.is_sealed():
            raise Sealed()


def _principal(client: ApiClient) -> Principal:
    return Principal(tenant=client.tenant, client=client.name, scopes=client.scopes)


def _with_scope(principal: Principal, scope: Scope | None) -> Principal:
    if scope is not None:
        access.require(principal, scope)
    return principal
