"""The real clock. The core never reads time itself; it gets this injected (DESIGN habit 1)."""

from __future__ import annotations

import time

__all__ = ["SystemClock"]


class SystemClock:
    def now_us(self) -> int:
        return time.time_ns() // 1000
