"""The listeners of the services' events (otpd.core.audit.Events): the database trail, a
fan-out to several listeners, and the clock watch readiness asks (docs/operations.md)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from threading import Lock

from otpd.core.audit import AuditEntry, AuditEvent, Events, current_context
from otpd.core.ports import AuditStore, Clock

__all__ = ["ClockWatch", "Fanout", "Trail"]


class Fanout:
    """Every listener in order. The database trail comes first after the log line: when it
    cannot write, the request fails (a verification the trail does not hold must not pass
    unnoticed), and the later listeners do not count it."""

    def __init__(self, listeners: Sequence[Events]) -> None:
        self.listeners = tuple(listeners)

    def emit(self, event: AuditEvent) -> None:
        for listener in self.listeners:
            listener.emit(event)


class Trail:
    """Appends each event to the database trail with the request's context."""

    def __init__(self, store: AuditStore, clock: Clock, retention_days: int | None) -> None:
        self.store = store
        self.clock = clock
        self.retention_days = retention_days

    def emit(self, event: AuditEvent) -> None:
        context = current_context()
        self.store.append_audit(
            AuditEntry(
                time_us=self.clock.now_us(),
                tenant=event.tenant,
                caller=event.caller,
                source=context.source,
                request_id=context.request_id,
                action=event.action,
                target=event.target,
                outcome=event.outcome,
            )
        )

    def prune(self) -> int:
        """Apply the retention setting; 0 when the trail is kept forever."""
        if self.retention_days is None:
            return 0
        cutoff = self.clock.now_us() - self.retention_days * 86_400 * 1_000_000
        return self.store.prune_audit(cutoff)


class ClockWatch:
    """Is this host's clock sane? Two signals (RFC 6238 §6: a verifier's clock drift shows as
    codes matching off the current step):

    - a step backwards: wall time moved back against the monotonic clock by more than
      `max_step_s` since the process started;
    - drift: of the last `window` accepted codes (all tenants) the mean matched offset is half
      a step or more away from zero, with at least `min_samples` of them.
    """

    def __init__(
        self,
        wall: Callable[[], float],
        monotonic: Callable[[], float],
        *,
        max_step_s: float = 1.0,
        window: int = 100,
        min_samples: int = 20,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._origin = wall() - monotonic()
        self._max_step_s = max_step_s
        self._offsets: deque[int] = deque(maxlen=window)
        self._min_samples = min_samples
        self._lock = Lock()

    def emit(self, event: AuditEvent) -> None:
        if event.offset is not None:
            with self._lock:
                self._offsets.append(event.offset)

    def problem(self) -> str | None:
        moved = (self._wall() - self._monotonic()) - self._origin
        if moved < -self._max_step_s:
            return f"the clock stepped backwards by {-moved:.1f} s"
        with self._lock:
            offsets = list(self._offsets)
        if len(offsets) >= self._min_samples:
            mean = sum(offsets) / len(offsets)
            if abs(mean) >= 0.5:
                return f"accepted codes match {mean:+.2f} steps off on average: clock drift"
        return None
