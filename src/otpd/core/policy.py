"""Verification policy as pure functions: code syntax, window, replay, throttling and the
guess budget.

docs/requirements.md#single-use, docs/security.md. Everything here takes `now` as an argument; the
service owns the clock.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from fractions import Fraction

from otpd.core.errors import ConfigError
from otpd.core.model import OtpParams, Outcome, ThrottleState
from otpd.core.otp import hotp_codes, totp_step

__all__ = [
    "LOCKED_FOREVER",
    "ThrottlePolicy",
    "evaluate_code",
    "is_throttled",
    "is_well_formed",
    "rescale_step",
    "usable",
]

# not_before of a spent guess budget without a timeout: later than any clock (and exact in a
# double, in case a database or client reads it as one).
LOCKED_FOREVER = 2**53

_ASCII_DIGITS = frozenset("0123456789")
_DEFAULT_PARAMS = OtpParams()


def is_well_formed(code: object, digits: int) -> bool:
    """docs/requirements.md#strict-codes: exactly `digits` ASCII digits. No trimming, no int(), no
    Unicode digits."""
    return isinstance(code, str) and len(code) == digits and all(c in _ASCII_DIGITS for c in code)


def evaluate_code(
    secret: bytes, params: OtpParams, code: object, now: int, last_step: int
) -> tuple[Outcome, int | None]:
    """Match `code` against every step of the window, then apply the replay rule.

    Every candidate is computed and compared with `hmac.compare_digest`, with no early exit
    (docs/requirements.md#equal-work), so timing does not tell which step matched. Of the matching
    steps the latest one later than `last_step` wins (docs/requirements.md#single-use,
    docs/requirements.md#strict-codes: the replay key is the step, never the input text).
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
    """Exponential backoff after `free_failures` consecutive failures
    (docs/requirements.md#single-use,
    docs/requirements.md#throttling), and a guess budget (NIST SP
    800-63B §5.2.2, docs/security.md).

    After the n-th consecutive failure (n >= free_failures) the next attempt must wait
    `base_delay * 2**(n - free_failures)` seconds, capped at `max_delay`. After the
    `guess_limit`-th (or the limit `guess_probability` derives for the credential) every code
    is refused until an administrator resets the credential or `lock_timeout` seconds pass.
    """

    free_failures: int = 5
    base_delay: int = 1
    max_delay: int = 900
    guess_limit: int = 100
    guess_probability: Fraction | None = None
    lock_timeout: int | None = None

    def __post_init__(self) -> None:
        # docs/requirements.md#throttling: a silly value must stop start-up, never silently disable
        # throttling.
        for name in ("free_failures", "base_delay", "max_delay"):
            if type(getattr(self, name)) is not int:
                raise ConfigError(f"throttle {name.replace('_', ' ')} must be a whole number")
        if not 1 <= self.free_failures <= 100:
            raise ConfigError("throttle free failures must be from 1 to 100 (NIST: at most 100)")
        if not 1 <= self.base_delay <= 3600:
            raise ConfigError("throttle base delay must be from 1 to 3600 seconds")
        if not self.base_delay <= self.max_delay <= 86400:
            raise ConfigError("throttle max delay must be from the base delay to 86400 seconds")
        if type(self.guess_limit) is not int or not 1 <= self.guess_limit <= 10**9:
            raise ConfigError("guess limit must be a whole number from 1 to 10^9")
        p = self.guess_probability
        if p is not None and (not isinstance(p, Fraction) or not 0 < p < 1):
            raise ConfigError("guess probability must be a number between 0 and 1")
        t = self.lock_timeout
        if t is not None and (type(t) is not int or not 1 <= t <= 10 * 365 * 86400):
            raise ConfigError("guess lock timeout must be from 1 second to 10 years")

    def limit_for(self, params: OtpParams) -> int:
        """Consecutive failures allowed before the lock. With a target probability p, an
        attacker's chance in that many guesses is at most limit * (2*skew + 1) / 10**digits,
        so limit = floor(p * 10**digits / (2*skew + 1)), and at least one guess."""
        if self.guess_probability is None:
            return self.guess_limit
        window = 2 * params.skew + 1
        return max(1, int(self.guess_probability * 10**params.digits / window))

    def delay_after(self, failures: int) -> int:
        if failures < self.free_failures:
            return 0
        exponent = min(failures - self.free_failures, 40)  # 2**40 s is far past any cap
        delay: int = self.base_delay << exponent
        return min(delay, self.max_delay)

    def after_failure(
        self, failures: int, now: int, params: OtpParams = _DEFAULT_PARAMS
    ) -> ThrottleState:
        """The state after the `failures`-th consecutive failure, recorded at `now`."""
        if failures >= self.limit_for(params):
            # The budget is spent. since = 0: no clock jump lifts a lock, only the timeout or
            # an administrator (`otpd credential reset`); past the timeout the count stays,
            # so each further failure locks again.
            timeout = self.lock_timeout
            until = LOCKED_FOREVER if timeout is None else now + timeout
            return ThrottleState(failures=failures, not_before=until, since=0)
        delay = self.delay_after(failures)
        if not delay:
            return ThrottleState(failures=failures)
        return ThrottleState(failures=failures, not_before=now + delay, since=now)


def is_throttled(state: ThrottleState, now: int) -> bool:
    """Are attempts refused unevaluated at `now`? A clock read earlier than the moment a
    backoff was set has gone back; the backoff is then lifted, never stretched by the jump
    (a lock, with since = 0, stays). The stores' SQL repeats this test in advance() and
    record_failure(): `not_before <= now OR since > now` means "not throttled"."""
    return state.since <= now < state.not_before


def rescale_step(last_step: int, old_period: int, new_period: int) -> int:
    """The last consumed step in a new period: the step that holds the last second of the old
    one (RFC 6238 §4.2 steps, T0 = 0), so a code of an already consumed time is never accepted
    again after the period changes. The stores' SQL repeats this formula."""
    if last_step < 0:
        return last_step
    return ((last_step + 1) * old_period - 1) // new_period


def usable(state: str, *, pending_ok: bool = False) -> bool:
    """May a credential in `state` accept a code? Only an active one, or a pending one at its
    enrolment confirmation (issue #16, docs/console.md)."""
    return state == "active" or (pending_ok and state == "pending")
