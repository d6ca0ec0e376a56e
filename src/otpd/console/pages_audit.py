"""The audit trail and tenants pages (issue #16, docs/console.md#pages): one worker hop each,
through gate.py, as pages.py."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from otpd.console import gate
from otpd.console.render import ConsoleEndpoint, as_admin, page
from otpd.core.audit import AuditQuery
from otpd.core.errors import InvalidInput

__all__ = ["Audit", "Tenants", "parse_time"]

_FIELDS = ("tenant", "user", "outcome", "action", "since", "until", "before")


def parse_time(field: str, text: str) -> int | None:
    """`YYYY-MM-DDTHH:MM` (an HTML datetime-local field), read as UTC, in microseconds."""
    if not text:
        return None
    try:
        moment = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError:
        raise InvalidInput(field, "must be a time like 2026-01-31T13:45 (UTC)") from None
    return int(moment.timestamp()) * 1_000_000


def _query(params: dict[str, str]) -> AuditQuery:
    """The filters as typed; without `since` the service searches the last 24 hours."""
    before = params["before"]
    if before and not before.isdigit():
        raise InvalidInput("before", "must be a number")
    return AuditQuery(
        tenant=params["tenant"] or None,
        target=params["user"] or None,
        outcome=params["outcome"] or None,
        action=params["action"] or None,
        since_us=parse_time("since", params["since"]),
        until_us=parse_time("until", params["until"]),
        before_seq=int(before) if before else None,
    )


class Audit(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        params = {k: request.query_params.get(k, "")[:128] for k in _FIELDS}
        runtime = gate.runtime_of(request)
        admin, found = await as_admin(
            request, lambda admin: gate.audit_view(runtime, admin, _query(params))
        )
        following = {k: v for k, v in params.items() if v and k != "before"}
        return page("audit.html", admin=admin, found=found, params=params, following=following)


class Tenants(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        runtime = gate.runtime_of(request)
        admin, rows = await as_admin(request, lambda admin: gate.tenant_rows(runtime, admin))
        return page("tenants.html", admin=admin, rows=rows)
