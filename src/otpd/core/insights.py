"""What the console's overview charts and audit page read (issue #16,
docs/console.md#overview-charts): bounded queries on the audit trail (the `audit_time` index, a
window and a row cap), so a large trail costs no more than its last hour. Pure over the store
port; core.console_service calls it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from otpd.core.audit import AuditEntry, AuditQuery
from otpd.core.model import Outcome
from otpd.core.ports import AuditStore

__all__ = [
    "AUDIT_PAGE",
    "MINUTES",
    "AuditPage",
    "audit_page",
    "drift",
    "per_minute",
    "throttled_users",
]

MINUTES = 60
MAX_ROWS = 200_000  # the chart's read is capped: a flood shows as a flat top, not a slow page
THROTTLE_WINDOW_MINUTES = 15
AUDIT_PAGE = 50
OUTCOMES = tuple(o.value for o in Outcome)
_MINUTE_US = 60_000_000


def _recent(store: AuditStore, tenant: str | None, now_us: int, minutes: int) -> list[AuditEntry]:
    since = now_us - minutes * _MINUTE_US
    query = AuditQuery(tenant=tenant, action="verify", since_us=since, limit=MAX_ROWS)
    return store.list_audit(query)


def _visible(entries: Iterable[AuditEntry], tenants: frozenset[str] | None) -> list[AuditEntry]:
    return [e for e in entries if tenants is None or e.tenant in tenants]


def per_minute(
    store: AuditStore, tenant: str | None, tenants: frozenset[str] | None, now_us: int
) -> list[dict[str, int]]:
    """Verifications of each of the last MINUTES minutes (oldest first), by outcome."""
    buckets: list[dict[str, int]] = [dict.fromkeys(OUTCOMES, 0) for _ in range(MINUTES)]
    start = now_us - MINUTES * _MINUTE_US
    for entry in _visible(_recent(store, tenant, now_us, MINUTES), tenants):
        index = (entry.time_us - start) // _MINUTE_US
        if 0 <= index < MINUTES and entry.outcome in buckets[index]:
            buckets[index][entry.outcome] += 1
    return buckets


def throttled_users(
    store: AuditStore, tenant: str | None, tenants: frozenset[str] | None, now_us: int
) -> list[tuple[str, int]]:
    """Per tenant, the users refused as throttled (backoff or the guess budget's lock) in the
    last THROTTLE_WINDOW_MINUTES: distinct targets of `throttled` outcomes in the trail."""
    entries = _recent(store, tenant, now_us, THROTTLE_WINDOW_MINUTES)
    users = {
        (e.tenant, e.target) for e in _visible(entries, tenants) if e.outcome == Outcome.THROTTLED
    }
    counts = Counter(t for t, _ in users)
    return sorted(counts.items())


def drift(offsets: Sequence[int], reach: int = 2) -> list[tuple[str, int]]:
    """A histogram of matched step offsets -reach..+reach (RFC 6238 §5.2 window); beyond it
    the outer bars count everything further out."""
    counts = Counter(max(-reach, min(reach, o)) for o in offsets)
    return [(f"{o:+d}" if o else "0", counts.get(o, 0)) for o in range(-reach, reach + 1)]


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    next_before: int | None  # the keyset of the next (older) page


def audit_page(store: AuditStore, query: AuditQuery) -> AuditPage:
    """Newest first, AUDIT_PAGE at a time; the next page starts below the oldest seq shown."""
    rows = store.list_audit(replace(query, newest_first=True, limit=AUDIT_PAGE + 1))
    more = len(rows) > AUDIT_PAGE
    rows = rows[:AUDIT_PAGE]
    return AuditPage(rows, rows[-1].seq if more and rows else None)
