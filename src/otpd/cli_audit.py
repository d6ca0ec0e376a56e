"""`otpd audit [verify]` (docs/operations.md#audit-trail): read and check the audit trail.

Both only read the database: they need no seal key and work while the servers are sealed.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from otpd.bootstrap import open_store
from otpd.core.audit import AuditEntry, AuditQuery, find_break
from otpd.core.errors import InvalidInput, OtpdError
from otpd.core.ports import AuditStore
from otpd.settings import Settings

__all__ = ["add_parser", "run"]

_RELATIVE = re.compile(r"(\d+)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(
    commands: Any, common: Callable[..., None], parser_class: type[argparse.ArgumentParser]
) -> None:
    audit = commands.add_parser(
        "audit", help="show the audit trail, or `otpd audit verify` to check its hash chain"
    )
    audit.add_argument("verb", nargs="?", choices=["verify"], help="verify: check the chain")
    audit.add_argument("--tenant", help="only this tenant's entries")
    audit.add_argument("--since", help="only entries since: 2026-01-31[T12:00:00] (UTC) or 24h, 7d")
    audit.add_argument("--action", help="only this action (verify, credential.create, login...)")
    audit.add_argument("--outcome", help="only this outcome (accepted, rejected, ok, failed...)")
    audit.add_argument("--json", action="store_true", help="one JSON object per line")
    common(audit, "data_dir", "database", "config")


def parse_since(text: str, now: float) -> int:
    """Microseconds since the epoch of `--since`: an ISO date/time (UTC unless it says) or a
    span back from now (30m, 24h, 7d)."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative:
        return int((now - int(relative[1]) * _UNIT_SECONDS[relative[2]]) * 1_000_000)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("since", "must be an ISO date/time or a span such as 24h") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


def _line(entry: AuditEntry) -> str:
    moment = datetime.fromtimestamp(entry.time_us / 1_000_000, UTC)
    return (
        f"{moment.isoformat(timespec='milliseconds')} #{entry.seq} {entry.action} "
        f"outcome={entry.outcome} tenant={entry.tenant} caller={entry.caller} "
        f"target={entry.target} source={entry.source} request_id={entry.request_id}"
    )


def _json(entry: AuditEntry) -> str:
    return json.dumps({"seq": entry.seq, **entry.body(), "hash": entry.hash})


def run(args: argparse.Namespace, settings: Settings) -> int:
    store: Any = open_store(settings)
    try:
        audit: AuditStore = store
        if args.verb == "verify":
            return _verify(audit, as_json=args.json)
        query = AuditQuery(
            tenant=args.tenant,
            since_us=parse_since(args.since, time.time()) if args.since else None,
            action=args.action,
            outcome=args.outcome,
        )
        show = _json if args.json else _line
        for entry in audit.list_audit(query):
            print(show(entry))
        return 0
    finally:
        store.close()


def _verify(audit: AuditStore, *, as_json: bool) -> int:
    entries = audit.list_audit(AuditQuery())
    broken = find_break(entries, audit.audit_head())
    first, last = (entries[0].seq, entries[-1].seq) if entries else (0, 0)
    if as_json:
        print(json.dumps({"intact": broken is None, "entries": len(entries), "problem": broken}))
    elif broken is None:
        print(f"audit trail intact: {len(entries)} entries (#{first} to #{last})")
    if broken is not None:
        raise OtpdError(f"audit trail broken: {broken}")
    return 0
