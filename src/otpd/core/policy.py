"""Verification policy as pure functions: code syntax, window, replay and throttling.

NOTES.md §3. Everything here takes `now` as an argument; the service owns the clock.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from otpd.core.errors import ConfigError
from otpd.core.model import OtpParams, Outcome, ThrottleState
from otpd.core.otp import hotp_codes, totp_step

__all__ = ["ThrottlePolicy", "evaluate_code", "is_throttled", "is_well_formed"]

_ASCII_DIGITS = frozenset("0123456789")


def is_well_formed(code: object, digits: int) -> bool:
    """R39: exactly `digits` ASCII digits. No trimming, no int(), no Unicode digits."""
    return isinstance(code, str) and len(code) == digits and all(c in _ASCII_DIGITS for c in code)


def evaluate_code(
    secret: bytes, params: OtpParams, code: object, now: int, last_step: int
) -> tuple[Outcome, int | None]:
    """Match `code` against every step of the window, then apply the replay rule.

    Every candidate is computed and compared with `hmac.compare_digest`, with no early exit
    (R36), so timing does not tell which step matched. Of the matching steps the latest one
    later than `last_step` wins (R18, R19: the replay key is the step, never the input text).
    """
    well_formed = is_well_formed(code, params.digits)
    # A malformed code still costs a full window of work, so its timing matches a wrong one.
    candidate = code if well_formed and isinstance(code, str) else "0" * params.digits
    step = totp_step(now, params.period)
    window = range(step - params.skew, step + params.skew + 1)
    best_new: int | None = None
    matched_old = False
    for counter, expected in hotp_codes(secret, window, params.digits, params.algorithm):
        equal = hmac.compare_digest(expected.encode(), candidate.encode()) and well_formed
        if equal and counter > last_step:
            best_new = counter
        elif equal:
            matched_old = True
    if best_new is not None:
        return Outcome.ACCEPTED, best_new
    if matched_old:
        return Outcome.REPLAYED, None
    return Outcome.REJECTED, None


@dataclass(frozen=True)
class ThrottlePolicy:
    """Exponential backoff after `free_failures` consecutive failures (NOTES.md §3, R28-R31).

    After the n-th consecutive failure (n >= free_failures) the next attempt must wait
    `base_delay * 2**(n - free_failures)` seconds, capped at `max_delay`. No permanent lock.
    """

    free_failures: int = 5
    base_delay: int = 1
    max_delay: int = 900

    def __post_init__(self) -> None:
        # R38: a silly value must stop start-up, never silently disable throttling.
        for name in ("free_failures", "base_delay", "max_delay"):
            if type(getattr(self, name)) is not int:
                raise ConfigError(f"throttle {name.replace('_', ' ')} must be a whole number")
        if not 1 <= self.free_failures <= 100:
            raise ConfigError("throttle free failures must be from 1 to 100 (NIST: at most 100)")
        if not 1 <= self.base_delay <= 3600:
            raise ConfigError("throttle base delay must be from 1 to 3600 seconds")
        if not self.base_delay <= self.max_delay <= 86400:
            raise ConfigError("throttle max delay must be from the base delay to 86400 seconds")

    def delay_after(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        exponent = min(failures - self.free_failures, 40)  # 2**40 s is far past any cap
        delay: int = self.base_delay << exponent
        return min(delay, self.max_delay)

    def after_failure(self, failures: int, now: int) -> ThrottleState:
        """The state after the `failures`-th consecutive failure, recorded at `now`."""
        delay = self.delay_after(failures)
        return ThrottleState(failures=failures, not_before=now + delay if delay else 0)


def is_throttled(state: ThrottleState, now: int) -> bool:
    return now < state.not_before
