"""The audit trail and tenants pages (issue #16, docs/console.md#pages): one worker hop each,
through gate_audit.py, as pages.py."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from otpd.console import gate, gate_audit
from otpd.console.render import ConsoleEndpoint, hop, page
from otpd.core.audit import AuditQuery
from otpd.core.errors import InvalidInput

__all__ = ["Audit", "Tenants", "parse_time"]

_DEFAULT_WINDOW_US = 24 * 3600 * 1_000_000  # an unbounded search would scan the whole trail
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


def _query(params: dict[str, str], now_us: int) -> AuditQuery:
    before = params["before"]
    if before and not before.isdigit():
        raise InvalidInput("before", "must be a number")
    since = parse_time("since", params["since"])
    return AuditQuery(
        tenant=params["tenant"] or None,
        target=params["user"] or None,
        outcome=params["outcome"] or None,
        action=params["action"] or None,
        since_us=since if since is not None else now_us - _DEFAULT_WINDOW_US,
        until_us=parse_time("until", params["until"]),
        before_seq=int(before) if before else None,
    )


class Audit(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        params = {k: request.query_params.get(k, "")[:128] for k in _FIELDS}
        runtime = gate.runtime_of(request)

        def act(admin: gate.Admin) -> tuple[gate.Admin, object]:
            query = _query(params, runtime.context.now_us())
            return admin, gate_audit.audit_view(runtime, admin, query)

        admin, found = await hop(request, act)
        following = {k: v for k, v in params.items() if v and k != "before"}
        return page("audit.html", admin=admin, found=found, params=params, following=following)


class Tenants(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        runtime = gate.runtime_of(request)
        admin, rows = await hop(
            request, lambda admin: (admin, gate_audit.tenant_rows(runtime, admin))
        )
        return page("tenants.html", admin=admin, rows=rows)
