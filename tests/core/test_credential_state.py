"""Credential state (issue #16): a disabled or pending credential refuses every code with the
ordinary answer and the same work (one unseal, the window's HMACs, one counted failure); only
the enrolment confirmation accepts a pending credential's code, and consumes its step."""

from __future__ import annotations

import pytest

from otpd.bootstrap import Services
from otpd.core.model import Outcome, Principal
from otpd.store.memory import MemoryStore
from tests.support.fakes import FakeClock, code, enrol, stored


@pytest.mark.parametrize("state", ["disabled", "pending"])
def test_a_right_code_is_refused_like_a_wrong_one(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore, state: str
) -> None:
    enrol(services, admin)
    assert store.set_credential_state("acme", "bob", state)
    result = services.credentials.verify(admin, "bob", code(clock))
    assert result.outcome is Outcome.REJECTED
    assert result.matched_step is None
    assert stored(store, "acme").throttle.failures == 1  # the same one write as a wrong code
    assert stored(store, "acme").last_step == -1  # nothing consumed
    assert store.set_credential_state("acme", "bob", "active")
    assert services.credentials.verify(admin, "bob", code(clock)).outcome is Outcome.ACCEPTED


def test_confirm_pending_accepts_once_and_consumes_the_step(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    enrol(services, admin)
    store.set_credential_state("acme", "bob", "pending")
    record = stored(store, "acme")
    assert services.enrolment.confirm_pending(record, code(clock)).outcome is Outcome.ACCEPTED
    assert stored(store, "acme").last_step == clock.seconds // 30
    again = services.enrolment.confirm_pending(stored(store, "acme"), code(clock))
    assert again.outcome is Outcome.REPLAYED


def test_confirm_refuses_a_disabled_credential(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    enrol(services, admin)
    store.set_credential_state("acme", "bob", "disabled")
    result = services.enrolment.confirm_pending(stored(store, "acme"), code(clock))
    assert result.outcome is Outcome.REJECTED
