"""Verifier: one code against one credential (or against none), the rule every door shares.

CredentialService.verify (every API and RADIUS) and EnrolmentService.confirm_pending (the
console's self-service enrolment) both come here, so one replay state and one throttle budget
hold for all of them (docs/requirements.md#single-use, docs/requirements.md#throttling). An
unknown name is an outcome, UNKNOWN, after the same work as a wrong code; how to say it is
each API's choice (docs/requirements.md#no-oracle, docs/requirements.md#equal-work).
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from otpd.core.codes import code_text
from otpd.core.inflight import InFlight
from otpd.core.model import CredentialRecord, OtpParams, Outcome, SecretBytes, VerifyResult
from otpd.core.policy import ThrottlePolicy, evaluate_code, is_throttled, usable
from otpd.core.ports import Clock, CredentialStateStore, Sealer
from otpd.core.seal_service import open_record_secret, require_unsealed

__all__ = ["Verifier"]

_DUMMY_SECRET = bytes(20)
_DUMMY_PARAMS = OtpParams()  # built once: an unknown name must not cost more than a known one


class Verifier:
    def __init__(
        self,
        store: CredentialStateStore,
        sealer: Sealer,
        clock: Clock,
        throttle: ThrottlePolicy,
        in_flight: InFlight,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._clock = clock
        self._throttle = throttle
        self._in_flight = in_flight  # shared with SealService.seal, which waits for it
        self._dummy_blob: bytes | None = None

    def under_way(self) -> AbstractContextManager[None]:
        """Hold this around a verification, from the seal check to the last write: seal()
        waits for it (core.inflight)."""
        return self._in_flight.shared()

    def evaluate(
        self,
        tenant: str,
        record: CredentialRecord | None,
        code: object,
        *,
        pending_ok: bool = False,
    ) -> VerifyResult:
        """Every answer but ACCEPTED costs the same work: an unseal, the window's HMACs and
        one write, whether the name is unknown, the credential throttled or locked, or the
        code wrong or replayed (docs/requirements.md#no-oracle, docs/requirements.md#equal-work;
        bench/verify_throughput.py measured an unknown name 100x faster than a wrong code before
        the write was added). Call it under `under_way()`: the writes happen after a last look
        at the seal, so none lands after seal() returns."""
        now = self._clock.now_us() // 1_000_000
        if record is None:
            return self._unknown(tenant, code, now)
        secret = open_record_secret(self._sealer, record)
        params = record.params  # a NumericCode is zero-padded to these digits (core.codes)
        text = code_text(code, params.digits)
        outcome, step = evaluate_code(secret.reveal(), params, text, now, record.last_step)
        if not usable(record.state, pending_ok=pending_ok):
            # Disabled, or awaiting its first code (issue #16): a wrong code through every
            # door, after the same HMACs and with the same one write.
            outcome, step = Outcome.REJECTED, None
        require_unsealed(self._sealer)  # a sibling worker may have sealed since the unseal above
        return self._commit(record, outcome, step, now)

    def _commit(
        self, record: CredentialRecord, outcome: Outcome, step: int | None, now: int
    ) -> VerifyResult:
        """The one write of a known credential's verification, and the answer it decides."""
        params = record.params
        if is_throttled(record.throttle, now):
            # The outcome is not used and no failure is counted, so a flood cannot extend the
            # wait; the write counts a refusal, which no rule reads (docs/security.md).
            self._store.record_refusal(record.id)
            return VerifyResult(Outcome.THROTTLED)
        if outcome is Outcome.ACCEPTED and step is not None:
            # `now` makes the throttle test part of the compare-and-set: the check above read
            # a snapshot, and parallel guesses may have throttled the credential since
            # (docs/requirements.md#throttling).
            if self._store.advance(record.id, step, now=now):
                return VerifyResult(Outcome.ACCEPTED, step)
            # Another request consumed this step first, or throttled the credential meanwhile
            # (then record_failure below counts nothing and answers THROTTLED).
            outcome = Outcome.REPLAYED
        counted = self._store.record_failure(
            record.id, now, lambda failures: self._throttle.after_failure(failures, now, params)
        )
        if counted is None:
            return VerifyResult(Outcome.THROTTLED)
        return VerifyResult(outcome)

    def _unknown(self, tenant: str, code: object, now: int) -> VerifyResult:
        """No such credential: a throw-away unseal, the window's HMACs and one write."""
        self._open_dummy()
        evaluate_code(_DUMMY_SECRET, _DUMMY_PARAMS, code_text(code, _DUMMY_PARAMS.digits), now, -1)
        require_unsealed(self._sealer)
        self._store.record_unknown_attempt(tenant)
        return VerifyResult(Outcome.UNKNOWN)

    def _open_dummy(self) -> None:
        """Decrypt a throw-away secret, as a known credential's verification would."""
        if self._dummy_blob is None:
            secret = SecretBytes(_DUMMY_SECRET)
            self._dummy_blob = self._sealer.seal_secret(secret, tenant="-", credential_id=0)
        self._sealer.open_secret(self._dummy_blob, tenant="-", credential_id=0)
