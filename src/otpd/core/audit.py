"""The audit trail's vocabulary (issue #13): the event a service reports, the request context
it is reported in, and the hash chain that makes a removed or edited entry visible.

The services call one narrow port, `Events.emit(event)`; what listens (the database trail, the
`otpd.audit` log line, the metrics) is composed in otpd.bootstrap. An event never carries a
code, secret, key or share: only names, actions and outcomes (docs/operations.md#audit-trail).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Protocol

__all__ = [
    "GENESIS",
    "AuditEntry",
    "AuditEvent",
    "AuditQuery",
    "Events",
    "RequestContext",
    "chain_hash",
    "current_context",
    "find_break",
    "note_actor",
    "note_caller",
    "request_context",
]

GENESIS = "0" * 64  # the previous hash of the first entry ever written


@dataclass
class RequestContext:
    """Who is asking, beyond the principal: set by the web middleware (or the CLI) per request.
    `tenant` and `client` are filled in by the services once the caller is known, for the
    access log (the worker thread shares this object with the event loop's request)."""

    request_id: str = "-"
    source: str = "-"  # the client address (a forwarded one only from a trusted proxy)
    caller: str = "-"  # who acts when no principal names one (the CLI's user)
    api: str = "-"  # strongbox, token2, phenixid, system, radius: the metrics' api label
    tenant: str = "-"
    client: str = "-"


_NO_REQUEST = RequestContext()
_CONTEXT: ContextVar[RequestContext] = ContextVar("otpd_request", default=_NO_REQUEST)


def current_context() -> RequestContext:
    return _CONTEXT.get()


def note_caller(tenant: str, client: str) -> None:
    """Record who the current request turned out to be (nothing outside a request)."""
    context = _CONTEXT.get()
    if context is not _NO_REQUEST:
        context.tenant = tenant
        context.client = client


def note_actor(caller: str) -> None:
    """Name who acts in the current request when no principal will (a console admin managing
    API clients); nothing outside a request."""
    context = _CONTEXT.get()
    if context is not _NO_REQUEST:
        context.caller = caller


@contextmanager
def request_context(context: RequestContext) -> Iterator[None]:
    """Run a block (a request, a CLI command) in `context`; worker threads started from it
    inherit it (Starlette's run_in_threadpool copies the context)."""
    token = _CONTEXT.set(context)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


@dataclass(frozen=True)
class AuditEvent:
    """What a service did, with its true outcome. `offset` is the matched step offset of an
    accepted code (-N..+N): the clock drift signal."""

    action: str
    outcome: str
    tenant: str = "-"
    caller: str = "-"
    target: str = "-"
    offset: int | None = None


class Events(Protocol):
    """The port the services report to. Must not raise for a listener's sake: the listener
    decides whether a failed write fails the request (the database trail does)."""

    def emit(self, event: AuditEvent) -> None: ...


@dataclass(frozen=True)
class AuditEntry:
    """One row of the trail. `seq` and the hashes are given by the store when it appends."""

    time_us: int
    tenant: str
    caller: str
    source: str
    request_id: str
    action: str
    target: str
    outcome: str
    seq: int = 0
    prev_hash: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, object]:
        fields = asdict(self)
        del fields["seq"], fields["prev_hash"], fields["hash"]
        return fields


def chain_hash(prev_hash: str, seq: int, entry: AuditEntry) -> str:
    """SHA-256 over the previous hash, the sequence number and the entry's fields, in a
    canonical JSON form: changing, removing or reordering any entry changes every later hash."""
    canonical = json.dumps([prev_hash, seq, entry.body()], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def find_break(entries: Iterable[AuditEntry], head: tuple[int, str] | None) -> str | None:
    """The first inconsistency of a trail read in `seq` order, or None when it is whole.
    The oldest entry may follow a pruned one (retention); after it every link must hold, and
    the last entry must be the head the store recorded (so removing the newest rows shows)."""
    previous: AuditEntry | None = None
    for entry in entries:
        if previous is not None:
            if entry.seq != previous.seq + 1:
                return f"entry {previous.seq + 1} is missing"
            if entry.prev_hash != previous.hash:
                return f"entry {entry.seq} does not follow entry {previous.seq}"
        if chain_hash(entry.prev_hash, entry.seq, entry) != entry.hash:
            return f"entry {entry.seq} was altered"
        previous = entry
    last = (previous.seq, previous.hash) if previous else None
    if head is not None and last != head:
        return f"the trail ends before its recorded head (entry {head[0]})"
    return None


@dataclass(frozen=True)
class AuditQuery:
    tenant: str | None = None
    since_us: int | None = None
    action: str | None = None
    outcome: str | None = None
    limit: int | None = None
    # The console's audit page (issue #16): a user, an end time, and keyset paging newest
    # first (`before_seq`: the page after the oldest entry shown; never an OFFSET).
    target: str | None = None
    until_us: int | None = None
    before_seq: int | None = None
    newest_first: bool = False
