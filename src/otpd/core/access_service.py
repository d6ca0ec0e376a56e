"""AccessService: who may call otpd. Tenants and API clients (administration: the CLI and the
console), authentication by API key, HTTP Basic, a tenant's own rules (core.tenants) and bearer
tokens (core.tokens), and the client lifecycle of issue #14 (list, revoke, rotate, scopes).

It is given the tenant and client ports, and what deleting a tenant needs: it never reads a
credential or a secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable
from dataclasses import replace

from otpd.core import access, tenants
from otpd.core.client_cache import ClientCache
from otpd.core.clients import LastUsed, checked_scopes
from otpd.core.context import ServiceContext, outcome_of
from otpd.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    OtpdError,
    PreconditionFailed,
    Unauthenticated,
)
from otpd.core.model import (
    SYSTEM_TENANT,
    TENANT_ID,
    ApiClient,
    PhenixAuth,
    Principal,
    Scope,
    Tenant,
    validate_tenant_id,
)
from otpd.core.ports import ClientStore, TenantRemovalStore, TenantStore
from otpd.core.tokens import (
    IssuedToken,
    TokenPolicy,
    new_token_record,
    renewed_expiry,
    resolve_token,
)

__all__ = ["AccessService"]

# Administration is audited by name, never with a key or its hash.


class AccessService:
    def __init__(
        self,
        tenants: TenantStore,
        clients: ClientStore,
        removal: TenantRemovalStore,
        context: ServiceContext,
        *,
        tokens: TokenPolicy | None = None,
        client_cache: ClientCache | None = None,
    ) -> None:
        self._tenants = tenants
        self._clients = clients
        self._removal = removal
        self._context = context
        self.tokens = tokens or TokenPolicy()
        self._client_cache = client_cache or ClientCache()  # key hash -> client, for 0.5 s at most
        self._last_used = LastUsed(clients)

    # --- tenants (CLI; no principal: whoever can read the data directory is root) ----------
    def create_tenant(self, tenant_id: str, phenixid_auth: PhenixAuth = PhenixAuth.BASIC) -> Tenant:
        with self._context.audited(None, "tenant.create", tenant_id, tenant_id):
            now = self._context.now()
            tenant = Tenant(id=tenant_id, phenixid_auth=phenixid_auth, created_at=now)
            self._tenants.create_tenant(tenant)
        return tenant

    def ensure_tenant(self, tenant_id: str) -> Tenant:
        existing = self._tenants.get_tenant(validate_tenant_id(tenant_id))
        if existing is not None:
            return existing
        try:
            return self.create_tenant(tenant_id)
        except AlreadyExists:  # created by someone else meanwhile
            tenant = self._tenants.get_tenant(tenant_id)
            assert tenant is not None
            return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        tenant = self._tenants.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return tenant

    def update_tenant(self, tenant: Tenant) -> None:
        with self._context.audited(None, "tenant.update", tenant.id, tenant.id):
            self._tenants.update_tenant(tenant)

    def list_tenants(self) -> list[Tenant]:
        return self._tenants.list_tenants()

    def delete_tenant(self, tenant_id: str, *, force: bool, erase: bool) -> dict[str, int]:
        """Delete a tenant and everything it owns, in one transaction; with `erase` its data
        keys too, so every copy of its secrets becomes unreadable (docs/operations.md#tenants).
        Without `force` a tenant that still owns anything is refused. Rows deleted per table."""
        if self._tenants.get_tenant(tenant_id) is None:
            self._context.emit("tenant.delete", "notfound")  # the asked-for id is not named
            raise NotFound(f"no such tenant: {tenant_id}")
        try:
            self._may_delete(tenant_id, force=force)
            deleted = self._removal.delete_tenant(tenant_id, erase=erase)
            if not deleted:  # deleted by someone else meanwhile
                raise NotFound(f"no such tenant: {tenant_id}")
        except OtpdError as error:
            self._context.emit("tenant.delete", outcome_of(error), tenant=tenant_id)
            raise
        outcome = "ok erased" if erase else "ok"
        self._context.emit("tenant.delete", outcome, tenant=tenant_id, target=tenant_id)
        return deleted

    def _may_delete(self, tenant_id: str, *, force: bool) -> None:
        clients = self._clients.list_clients(tenant_id)
        if tenant_id == SYSTEM_TENANT and any(Scope.SEAL in c.scopes for c in clients):
            raise Forbidden("the system tenant holds seal clients: it cannot be deleted")
        owned = {
            "credentials": self._removal.count_credentials(tenant_id),
            "clients": len(clients),
            "nas": len(self._removal.list_nas(tenant_id)),
        }
        if any(owned.values()) and not force:
            counts = ", ".join(f"{n} {what}" for what, n in owned.items() if n)
            raise PreconditionFailed(
                f"tenant {tenant_id} still has {counts}; add --force to delete them"
            )

    # --- API clients (docs/operations.md#api-clients-list-rotate-revoke) -------------------
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
            created_at=self._context.now(),
        )
        self.ensure_tenant(tenant_id)
        with self._context.audited(None, "client.create", name, tenant_id):
            self._clients.create_client(client)
        return client, key

    def list_clients(self, tenant_id: str | None = None) -> list[ApiClient]:
        """One tenant's clients (NotFound if no such tenant), or every client, by tenant."""
        if tenant_id is not None:
            if self._tenants.get_tenant(tenant_id) is None:
                raise NotFound("no such tenant")
            return self._clients.list_clients(tenant_id)
        return [c for t in self._tenants.list_tenants() for c in self._clients.list_clients(t.id)]

    def revoke_client(self, tenant_id: str, name: str) -> None:
        """Delete the client and its bearer tokens at once (one transaction)."""
        self._client_cache.forget()
        if not self._clients.delete_client(tenant_id, name):
            raise NotFound("no such client")
        self._context.emit("client revoke", "ok", tenant=tenant_id, target=name)

    def rotate_client(self, tenant_id: str, name: str, grace_s: int) -> tuple[ApiClient, str]:
        """A new key, returned once. The old key (and the bearer tokens it logged in) keeps
        working for `grace_s` seconds; 0 ends it at once. A key still in the grace of an
        earlier rotation ends now: only one previous key is kept."""
        if type(grace_s) is not int or not 0 <= grace_s <= access.MAX_GRACE_S:
            raise InvalidInput("grace", "must be 0 to 30 days in seconds")
        key = access.new_key()
        until = self._context.now_us() + grace_s * 1_000_000 if grace_s else None
        self._client_cache.forget()
        if not self._clients.rotate_client_key(tenant_id, name, access.hash_key(key), until):
            raise NotFound("no such client")
        self._context.emit("client rotate", f"ok grace={grace_s}s", tenant=tenant_id, target=name)
        return self._client(tenant_id, name), key

    def update_client_scopes(self, tenant_id: str, name: str, scopes: Iterable[Scope]) -> ApiClient:
        """New scopes, in force for the next request (bearer tokens read them each time)."""
        scope_set = checked_scopes(tenant_id, scopes)
        self._client_cache.forget()
        if not self._clients.set_client_scopes(tenant_id, name, scope_set):
            raise NotFound("no such client")
        shown = ",".join(sorted(scope_set))
        self._context.emit("client update", f"ok scopes={shown}", tenant=tenant_id, target=name)
        return self._client(tenant_id, name)

    def _client(self, tenant_id: str, name: str) -> ApiClient:
        client = self._clients.get_client(tenant_id, name)
        if client is None:  # revoked meanwhile
            raise NotFound("no such client")
        return client

    # --- authentication --------------------------------------------------------------------
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
        client = self._client_cache.get(key_hash, self._clients.find_client_by_key_hash)
        now_us = self._context.now_us()
        if client is None or not access.key_is_live(client, key_hash, now_us):
            raise Unauthenticated("bad key")
        self._last_used.note(client, now_us)
        return client, key_hash

    def authenticate_basic(self, name: object, key: object) -> Principal:
        """HTTP Basic `<client name>:<key>`. A wrong name, key or either missing all give the
        same Unauthenticated."""
        if not isinstance(name, str) or not isinstance(key, str):
            raise Unauthenticated("bad basic credentials")
        principal = self.authenticate(key)
        if not hmac.compare_digest(principal.client.encode(), name.encode("utf-8", "replace")):
            raise Unauthenticated("bad basic credentials")
        return principal

    def admit_caller(self, tenant_id: str, caller: tenants.Caller, operation: str) -> Principal:
        """A caller of `operation` in the tenant named by its request (docs/api-phenixid.md):
        the tenant's settings decide (core.tenants.admit); the principal has scope verify
        there only."""
        known = isinstance(tenant_id, str) and TENANT_ID.fullmatch(tenant_id) is not None
        tenant = self._tenants.get_tenant(tenant_id) if known else None
        try:
            return tenants.admit(tenant, caller, operation, self.authenticate_basic)
        except (
            Forbidden,
            Unauthenticated,
        ) as error:  # the true reason, not the answer (docs/requirements.md#audit)
            self._context.emit("admit", outcome_of(error), tenant=tenant.id if tenant else "-")
            raise

    # --- bearer tokens (core.tokens) -------------------------------------------------------
    def login(self, name: object, key: object, tenant: object = None) -> IssuedToken:
        """Client name + key (+ optional tenant) -> a bearer token. Wrong name, key or tenant
        all give the same Unauthenticated (docs/api-strongbox.md)."""
        try:
            principal, key_hash = self._login_principal(name, key, tenant)
        except Unauthenticated:
            self._context.emit("login", "failed", caller="-")
            raise
        with self._context.audited(principal, "login"):
            # The token records the key that logged in: it dies with that key (core.tokens).
            now_us = self._context.now_us()
            issued = new_token_record(principal, now_us, self.tokens, key_hash)
            self._clients.insert_token(issued.record)
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
        """A bearer token from login (None: none was sent) -> principal with `scope`."""
        if token is None:
            raise Unauthenticated("no bearer token")
        now_us = self._context.now_us()
        client = resolve_token(self._clients, token, now_us)[1]
        self._last_used.note(client, now_us)
        return _with_scope(_principal(client), scope)

    def authenticate_bearer(self, token: str | None, scope: Scope | None) -> Principal:
        """The system paths' bearer: an API key (40 characters, as `otpd seal` sends) or a
        login token."""
        if token is not None and len(token) == access.KEY_LENGTH:
            return self.authenticate(token, scope)
        return self.authenticate_token(token, scope)

    def refresh_token(
        self,
        token: str | None,
        increment_s: Callable[[], int | None] = lambda: None,
        scope: Scope | None = None,
    ) -> IssuedToken:
        """Authenticate a bearer token (as authenticate_token) and renew it, with one lookup.
        `increment_s` reads the TTL the caller asks for; it runs only once the token is good,
        so an outsider's request body is never parsed."""
        if token is None:
            raise Unauthenticated("no bearer token")
        now_us = self._context.now_us()
        record, client = resolve_token(self._clients, token, now_us)
        self._last_used.note(client, now_us)
        _with_scope(_principal(client), scope)
        expires = renewed_expiry(record, now_us, increment_s(), self.tokens)
        if not self._clients.renew_token(record.token_hash, now_us, expires):
            raise Unauthenticated("bad token")
        return IssuedToken(token, replace(record, renewed_at_us=now_us, expires_at_us=expires))

    def sweep_expired_tokens(self) -> int:
        """Delete expired bearer tokens (lookups check expiry themselves: this only keeps the
        table small)."""
        return self._clients.delete_expired_tokens(self._context.now_us())


def _principal(client: ApiClient) -> Principal:
    return Principal(tenant=client.tenant, client=client.name, scopes=client.scopes)


def _with_scope(principal: Principal, scope: Scope | None) -> Principal:
    if scope is not None:
        access.require(principal, scope)
    return principal
