"""The listeners of the services' events (otpd.core.audit.Events): the database trail, a
fan-out to several listeners, and the clock watch readiness asks (docs/operations.md)."""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Callable, Sequence
from threading import Event, Lock, Thread

from otpd.core.audit import AuditEntry, AuditEvent, Events, current_context
from otpd.core.errors import OtpdError
from otpd.core.ports import AuditStore, Clock

__all__ = ["WRITER_THREAD", "ClockWatch", "Fanout", "Trail"]

log = logging.getLogger("otpd.audit")


WRITER_THREAD = "otpd-audit"  # the name of the thread that appends the batches


class Fanout:
    """Every listener in order: the log line, the database trail's queue, the clock watch,
    the metrics."""

    def __init__(self, listeners: Sequence[Events]) -> None:
        self.listeners = tuple(listeners)

    def emit(self, event: AuditEvent) -> None:
        for listener in self.listeners:
            listener.emit(event)


class Trail:
    """Appends each event to the database trail with the request's context.

    Group commit: entries are queued and a writer thread appends them in batches, one
    transaction per batch (`append_audit_batch`), at most `flush_s` after the action. A
    verification so waits for no second commit (bench/ops_overhead.py measured a synchronous
    append at 0.36x the throughput with SQLite synchronous=FULL). The `otpd.audit` log line
    is written at once; a crash can lose the entries of the last `flush_s` from the trail
    (docs/operations.md#audit-trail). `close()` writes what is queued.
    """

    def __init__(
        self,
        store: AuditStore,
        clock: Clock,
        retention_days: int | None,
        *,
        flush_s: float = 0.05,
        max_queue: int = 100_000,
    ) -> None:
        self.store = store
        self.clock = clock
        self.retention_days = retention_days
        self._flush_s = flush_s
        self._max_queue = max_queue
        self._queue: list[AuditEntry] = []
        self._lock = Lock()
        self._wake = Event()
        self._writer: Thread | None = None
        self._writer_pid = 0
        self._closed = False

    def emit(self, event: AuditEvent) -> None:
        context = current_context()
        entry = AuditEntry(
            time_us=self.clock.now_us(),
            tenant=event.tenant,
            caller=event.caller,
            source=context.source,
            request_id=context.request_id,
            action=event.action,
            target=event.target,
            outcome=event.outcome,
        )
        with self._lock:
            if len(self._queue) >= self._max_queue:  # the database is gone for long: say so
                log.error("audit trail queue full; dropping the oldest entry")
                del self._queue[0]
            self._queue.append(entry)
            self._ensure_writer()

    def _ensure_writer(self) -> None:
        # Started on first use in each process: a forked worker has no copy of the thread.
        if self._writer is None or self._writer_pid != os.getpid():
            self._writer_pid = os.getpid()
            self._writer = Thread(target=self._run, name=WRITER_THREAD, daemon=True)
            self._writer.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._flush_s)
            self.flush()

    def flush(self) -> int:
        """Append everything queued now; on a database error keep it for the next try."""
        with self._lock:
            batch, self._queue = self._queue, []
        if not batch:
            return 0
        try:
            self.store.append_audit_batch(batch)
        except OtpdError as error:
            log.warning("audit trail write failed (%s); will retry", type(error).__name__)
            with self._lock:
                self._queue[:0] = batch
            return 0
        return len(batch)

    def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._writer is not None and self._writer_pid == os.getpid():
            self._writer.join(timeout=5)
        self.flush()

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

    def recent_offsets(self) -> list[int]:
        """The last `window` matched offsets of this process (the console's drift chart)."""
        with self._lock:
            return list(self._offsets)

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
