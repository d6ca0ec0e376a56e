"""The real clock. The core never reads time itself: it is given a clock, so tests and
benchmarks set the time and every service reads one clock (docs/design.md#services)."""

from __future__ import annotations

import time

__all__ = ["SystemClock"]


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000
