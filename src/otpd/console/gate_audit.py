"""The console's door to the audit trail, the tenants' counts and the unseal reset (issue #16,
after the audit trail of #13). Beside gate.py, on the same terms: called inside a request's
single worker hop, the only other console module that touches the runtime."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, cast

from otpd.console import insights
from otpd.console.gate import Admin, tenants
from otpd.core.audit import AuditQuery
from otpd.core.model import SealStatus, Tenant
from otpd.core.ports import AuditStore

if TYPE_CHECKING:
    from otpd.bootstrap import Runtime

__all__ = ["Charts", "audit_view", "overview_charts", "reset_unseal", "tenant_rows"]


@dataclass(frozen=True)
class Charts:
    per_minute: list[dict[str, int]]
    throttled: list[tuple[str, int]]
    drift: list[tuple[str, int]] | None  # None: host-wide, shown to admins of every tenant


def _audit_store(runtime: Runtime) -> AuditStore:
    return cast(AuditStore, runtime.store)


def _admin_scope(admin: Admin) -> str | None:
    """The one tenant a tenant admin's trail queries are held to (None: every tenant)."""
    return admin.account.tenant


def overview_charts(runtime: Runtime, admin: Admin) -> Charts:
    store, now = _audit_store(runtime), runtime.context.now_us()
    scope = _admin_scope(admin)
    drift = None
    if scope is None:
        drift = insights.drift(runtime.clock_watch.recent_offsets())
    return Charts(
        insights.per_minute(store, scope, None, now),
        insights.throttled_users(store, scope, None, now),
        drift,
    )


def audit_view(runtime: Runtime, admin: Admin, query: AuditQuery) -> insights.AuditPage:
    """The trail, newest first; a tenant admin sees its tenant's rows only (403 otherwise)."""
    if query.tenant:
        admin.tenant(query.tenant)
    scope = _admin_scope(admin)
    if scope is not None:
        query = replace(query, tenant=scope)
    return insights.audit_page(_audit_store(runtime), query)


def tenant_rows(runtime: Runtime, admin: Admin) -> list[tuple[Tenant, int, int]]:
    """Each tenant the admin sees, with its credential and API client counts."""
    return [
        (t, count, len(runtime.store.list_clients(t.id))) for t, count in tenants(runtime, admin)
    ]


def reset_unseal(runtime: Runtime, nonce: str) -> SealStatus:
    """Discard the shares given so far; only with the nonce the unseal in progress returned
    (docs/operations.md), so a passer-by cannot undo a ceremony."""
    return runtime.sealing.reset_unseal(nonce)
