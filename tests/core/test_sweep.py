"""Housekeeping: expired tokens and enrolment tickets are swept; live ones stay."""

from __future__ import annotations

import pytest

from otpd.core.errors import NotFound, Unauthenticated
from otpd.core.model import Principal
from otpd.core.service import CredentialService
from otpd.core.tokens import hash_token
from otpd.store.memory import MemoryStore
from tests.support.fakes import FakeClock
from tests.support.stores import stored_token


def test_sweep_removes_only_what_expired(
    service: CredentialService, store: MemoryStore, clock: FakeClock, admin: Principal
) -> None:
    client = service.create_client("acme", "sb", ["read"])[1]
    old = service.login("sb", client)
    enrolment = service.enrol_user(admin, email=None, phone="+41790000000")
    clock.advance(service.tokens.ttl_s + 1)  # the token and the 15-minute ticket have expired
    fresh = service.login("sb", client)
    assert service.sweep_expired() == 2
    assert stored_token(store, hash_token(old.token)) is None
    assert stored_token(store, hash_token(fresh.token)) is not None
    with pytest.raises(Unauthenticated):
        service.authenticate_token(old.token)
    with pytest.raises(NotFound):
        service.enrolment_uri(enrolment.ticket)
    assert service.sweep_expired() == 0
