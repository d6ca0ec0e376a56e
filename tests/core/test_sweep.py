"""Housekeeping: expired tokens and enrolment tickets are swept; live ones stay."""

from __future__ import annotations

import pytest

from otpd.bootstrap import Services
from otpd.core.errors import NotFound, Unauthenticated
from otpd.core.model import Principal
from otpd.core.tokens import hash_token
from otpd.store.memory import MemoryStore
from tests.support.fakes import FakeClock
from tests.support.stores import stored_token


def test_sweep_removes_only_what_expired(
    services: Services, store: MemoryStore, clock: FakeClock, admin: Principal
) -> None:
    client = services.access.create_client("acme", "sb", ["read"])[1]
    old = services.access.login("sb", client)
    enrolment = services.enrolment.enrol_user(admin, email=None, phone="+41790000000")
    clock.advance(
        services.access.tokens.ttl_s + 1
    )  # the token and the 15-minute ticket have expired
    fresh = services.access.login("sb", client)
    assert services.sweep_expired() == 2
    assert stored_token(store, hash_token(old.token)) is None
    assert stored_token(store, hash_token(fresh.token)) is not None
    with pytest.raises(Unauthenticated):
        services.access.authenticate_token(old.token)
    with pytest.raises(NotFound):
        services.enrolment.enrolment_uri(enrolment.ticket)
    assert services.sweep_expired() == 0
