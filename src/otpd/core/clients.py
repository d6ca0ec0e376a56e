"""API client rules (issue #14): the scopes every client keeps, and coarse last-used.

A revoked client's bearer tokens are deleted with it in one transaction, and every bearer
lookup joins its client, so neither works on any instance once the revoke has committed. A
rotated-out key (and the tokens it logged in) works until its grace ends, judged by the
injected clock; a second rotation replaces it. docs/operations.md#api-clients-list-rotate-revoke.
The lifecycle itself (list, revoke, rotate, scopes) is AccessService's.
"""

from __future__ import annotations

from collections.abc import Iterable

from otpd.core import access
from otpd.core.errors import InvalidInput, StoreUnavailable
from otpd.core.model import SYSTEM_TENANT, ApiClient, Scope
from otpd.core.ports import ClientStore

__all__ = ["LastUsed", "checked_scopes"]


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


class LastUsed:
    """Coarse last-used: a conditional write only when the stored time is a minute old, so
    the request path gains no write per request. It remembers this process's own writes, for
    a caller that holds an older copy of the row (core.client_cache)."""

    def __init__(self, store: ClientStore) -> None:
        self._store = store
        self._touched: dict[tuple[str, str], int] = {}

    def note(self, client: ApiClient, now_us: int) -> None:
        stale_before = now_us - access.LAST_USED_GRANULARITY_US
        if client.last_used_at_us >= stale_before:
            return
        key = (client.tenant, client.name)
        if self._touched.get(key, 0) >= stale_before:
            return
        self._touched[key] = now_us
        try:
            self._store.touch_client(client.tenant, client.name, now_us, stale_before)
        except StoreUnavailable:  # bookkeeping only: the request that used the key goes on
            return
