"""What every service shares: the clock, and the audit events it reports (issue #13).

One ServiceContext is composed in otpd.bootstrap and handed to each service, so all of them
read one clock and report to one set of listeners. It is a collaborator, not a base class: a
service reaches only what its constructor was given (docs/design.md#services).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from otpd.core.audit import AuditEvent, Events, current_context, note_caller
from otpd.core.errors import NotFound, OtpdError
from otpd.core.model import Principal
from otpd.core.ports import Clock

__all__ = ["LogEvents", "ServiceContext", "audit_log", "outcome_of"]

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


class ServiceContext:
    """The clock and the audit events. `events` may be replaced (a shared test runtime adds
    the web app's metrics); every service sees the change, as they share this object."""

    def __init__(self, clock: Clock, events: Events | None = None) -> None:
        self.clock = clock
        self.events: Events = events or LogEvents()

    def now_us(self) -> int:
        return self.clock.now_us()

    def now(self) -> int:
        """Whole seconds since the Unix epoch: the unit of TOTP time steps."""
        return self.clock.now_us() // 1_000_000

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
        """Report one event; the caller defaults to the request's (the CLI's user)."""
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
            # A name that does not exist is never written to the trail: it may be a typo of a
            # secret, or a probe (docs/operations.md#audit-trail).
            named = "-" if isinstance(error, NotFound) else target
            self.emit(action, outcome_of(error), tenant=tenant, caller=caller, target=named)
            raise
        self.emit(action, "ok", tenant=tenant, caller=caller, target=target)
