"""A gate between verifications and seal() in one process (docs/security.md, "Sealing").

A verification unseals a secret and only then writes its outcome. Without the gate, a seal
arriving in between would return while the write was still to come, and the operator would see
"sealed" before the last verification committed. Verifications hold the gate shared; seal()
holds it exclusively, so it returns only after every verification of this process that started
before it has finished. Waiting sealers go first: new verifications queue behind them, so a
steady stream of verifications cannot hold a seal off. Worker processes of the same node are
covered by the verification's last look at the seal just before its write (core.verification).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["InFlight"]


class InFlight:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holders = 0
        self._sealers = 0  # waiting or holding

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._sealers == 0)
            self._holders += 1
        try:
            yield
        finally:
            with self._cond:
                self._holders -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._sealers += 1
            self._cond.wait_for(lambda: self._holders == 0)
        try:
            yield
        finally:
            with self._cond:
                self._sealers -= 1
                self._cond.notify_all()
