"""API client lifecycle (issue #14): list, revoke, rotate a key, change scopes; coarse
last-used. A base of AccessService, for the CLI (whoever can read the data directory is root).

A revoked client's bearer tokens are deleted with it in one transaction, and every bearer
lookup joins its client, so neither works on any instance once the revoke has committed. A
rotated-out key (and the tokens it logged in) works until its grace ends, judged by the
injected clock; a second rotation replaces it. docs/operations.md#api-clients-list-rotate-revoke.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from otpd.core import access
from otpd.core.client_cache import ClientCache
from otpd.core.errors import InvalidInput, NotFound, StoreUnavailable
from otpd.core.model import SYSTEM_TENANT, ApiClient, Scope
from otpd.core.ports import Clock, CredentialStore

__all__ = ["ClientAdmin", "checked_scopes"]

# Administration is audited by name, never with a key or its hash.


def checked_scopes(tenant_id: str, scopes: Iterable[Scope]) -> frozenset[Scope]:
    """The rules every client's scopes keep: at least one; `seal` only, and only, in the
    system tenant (a seal key can stop the service, so it opens nothing else)."""
    scope_set = frozenset(scopes)
    if not scope_set:
        raise InvalidInput("scopes", "must name at least one scope")
    if tenant_id == SYSTEM_TENANT and scope_set - {Scope.SEAL}:
        raise InvalidInput("scopes", f"clients of {SYSTEM_TENANT!r} may only have scope seal")
    if tenant_id != SYSTEM_TENANT and Scope.SEAL in scope_set:
        raise InvalidInput("scopes", f"seal is only for clients of the tenant {SYSTEM_TENANT!r}")
    return scope_set


class ClientAdmin:
    """Needs `store` and `clock` from the host service (AccessService)."""

    store: CredentialStore
    clock: Clock
    _touched: dict[tuple[str, str], int]
    _client_cache: ClientCache

    if TYPE_CHECKING:  # AccessService's: the audit trail (core.audit)

        def emit(
            self,
            action: str,
            outcome: str,
            *,
            tenant: str = "-",
            caller: str | None = None,
            target: str = "-",
            offset: int | None = None,
        ) -> None: ...

    def list_clients(self, tenant_id: str | None = None) -> list[ApiClient]:
        """One tenant's clients (NotFound if no such tenant), or every client, by tenant."""
        if tenant_id is not None:
            if self.store.get_tenant(tenant_id) is None:
                raise NotFound("no such tenant")
            return self.store.list_clients(tenant_id)
        return [c for t in self.store.list_tenants() for c in self.store.list_clients(t.id)]

    def revoke_client(self, tenant_id: str, name: str) -> None:
        """Delete the client and its bearer tokens at once (one transaction)."""
        self._client_cache.forget()
        if not self.store.delete_client(tenant_id, name):
            raise NotFound("no such client")
        self.emit("client revoke", "ok", tenant=tenant_id, target=name)

    def rotate_client(self, tenant_id: str, name: str, grace_s: int) -> tuple[ApiClient, str]:
        """A new key, returned once. The old key (and the bearer tokens it logged in) keeps
        working for `grace_s` seconds; 0 ends it at once. A key still in the grace of an
        earlier rotation ends now: only one previous key is kept."""
        if type(grace_s) is not int or not 0 <= grace_s <= access.MAX_GRACE_S:
            raise InvalidInput("grace", "must be 0 to 30 days in seconds")
        key = access.new_key()
        until = self.clock.now_us() + grace_s * 1_000_000 if grace_s else None
        self._client_cache.forget()
        if not self.store.rotate_client_key(tenant_id, name, access.hash_key(key), until):
            raise NotFound("no such client")
        self.emit("client rotate", f"ok grace={grace_s}s", tenant=tenant_id, target=name)
        return self._client(tenant_id, name), key

    def update_client_scopes(self, tenant_id: str, name: str, scopes: Iterable[Scope]) -> ApiClient:
        """New scopes, in force for the next request (bearer tokens read them each time)."""
        scope_set = checked_scopes(tenant_id, scopes)
        self._client_cache.forget()
        if not self.store.set_client_scopes(tenant_id, name, scope_set):
            raise NotFound("no such client")
        shown = ",".join(sorted(scope_set))
        self.emit("client update", f"ok scopes={shown}", tenant=tenant_id, target=name)
        return self._client(tenant_id, name)

    def _client(self, tenant_id: str, name: str) -> ApiClient:
        client = self.store.get_client(tenant_id, name)
        if client is None:  # revoked meanwhile
            raise NotFound("no such client")
        return client

    def _note_use(self, client: ApiClient, now_us: int) -> None:
        """Coarse last-used: a conditional write only when the stored time is a minute old, so
        the request path gains no write per request. `_touched` remembers this process's own
        writes, for a caller that holds an older copy of the row."""
        stale_before = now_us - access.LAST_USED_GRANULARITY_US
        if client.last_used_at_us >= stale_before:
            return
        key = (client.tenant, client.name)
        if self._touched.get(key, 0) >= stale_before:
            return
        self._touched[key] = now_us
        try:
            self.store.touch_client(client.tenant, client.name, now_us, stale_before)
        except StoreUnavailable:  # bookkeeping only: the request that used the key goes on
            return
