"""Core test fixtures: two time zones, a fake clock, a fake sealer, a service (tests/support).

The core is pure and time comes in as an integer, so every core test runs under two time
zones (UTC and a half-hour-offset zone with DST); a result that differs between them means
something read local time.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from otpd.bootstrap import Services, compose_services
from otpd.core.model import Principal
from otpd.store.memory import MemoryStore
from tests.support.fakes import TIME_ZONES, FakeClock, FakeSealer, principal


@pytest.fixture(autouse=True, params=TIME_ZONES)
def time_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = request.param
    time.tzset()
    try:
        yield request.param
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sealer() -> FakeSealer:
    return FakeSealer()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def services(store: MemoryStore, sealer: FakeSealer, clock: FakeClock) -> Services:
    return compose_services(store, sealer, clock, label_prefix="Sbox")


@pytest.fixture
def admin(services: Services) -> Principal:
    return principal(services, "acme")
