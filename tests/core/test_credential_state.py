"""Credential state (issue #16): a disabled or pending credential refuses every code with the
ordinary answer and the same work (one unseal, the window's HMACs, one counted failure); only
the enrolment confirmation accepts a pending credential's code, consumes its step, and makes it
active with its link dead."""

from __future__ import annotations

import pytest

from otpd.bootstrap import Services
from otpd.core.errors import NotFound
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


def _link(services: Services, admin: Principal) -> tuple[str, bytes]:
    """A self-service link for bob (re-keyed: a new secret) and the secret its page shows."""
    ticket = services.enrolment.issue_link(admin, "bob")
    return ticket, services.enrolment.pending_enrolment(ticket).secret.reveal()


def test_confirm_accepts_once_consumes_the_step_and_activates(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    enrol(services, admin)
    ticket, secret = _link(services, admin)
    assert stored(store, "acme").state == "pending"
    assert services.enrolment.confirm_enrolment(ticket, code(clock, secret))
    record = stored(store, "acme")
    assert record.state == "active"
    assert record.last_step == clock.seconds // 30
    with pytest.raises(NotFound):  # the link is dead
        services.enrolment.confirm_enrolment(ticket, code(clock, secret, 1))
    again = services.credentials.verify(admin, "bob", code(clock, secret))
    assert again.outcome is Outcome.REPLAYED


def test_a_wrong_first_code_keeps_it_pending(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    ticket, secret = _link(services, admin)
    assert not services.enrolment.confirm_enrolment(ticket, code(clock, secret, 5))
    assert stored(store, "acme").state == "pending"
    assert stored(store, "acme").throttle.failures == 1
    assert services.enrolment.confirm_enrolment(ticket, code(clock, secret))


def test_confirm_refuses_a_disabled_credential(
    services: Services, admin: Principal, clock: FakeClock, store: MemoryStore
) -> None:
    ticket, secret = _link(services, admin)
    store.set_credential_state("acme", "bob", "disabled")
    with pytest.raises(NotFound):
        services.enrolment.confirm_enrolment(ticket, code(clock, secret))
    assert stored(store, "acme").state == "disabled"
    assert stored(store, "acme").last_step == -1  # nothing consumed
