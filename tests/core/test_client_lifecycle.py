"""API client lifecycle in the service (issue #14), with a clock the test turns: a rotated
key's grace to the microsecond, bearer tokens that die with their key or client, scopes in
force at once, coarse last-used. Over the memory store and a real SQLite file."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from otpd.bootstrap import Services, compose_services
from otpd.core import access
from otpd.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from otpd.core.model import Scope
from otpd.core.ports import CredentialStore
from otpd.store.memory import MemoryStore
from otpd.store.sqlite import SqliteStore
from tests.support.fakes import FakeClock, FakeSealer
from tests.support.stores import stored_token

HOUR_US = 3600 * 1_000_000


class CountingSqlite(SqliteStore):
    """The real SQLite store, counting the last-used writes it is asked for."""

    touches = 0

    def touch_client(self, tenant_id: str, name: str, now_us: int, stale_before_us: int) -> bool:
        self.touches += 1
        return super().touch_client(tenant_id, name, now_us, stale_before_us)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CredentialStore]:
    backend: CredentialStore = (
        MemoryStore() if request.param == "memory" else CountingSqlite(tmp_path / "otpd.db")
    )
    yield backend
    backend.close()


@pytest.fixture
def services(store: CredentialStore, clock: FakeClock) -> Services:
    return compose_services(store, FakeSealer(), clock, label_prefix="Sbox")


def test_old_key_works_during_grace_and_not_a_microsecond_after(
    services: Services, clock: FakeClock
) -> None:
    _, old = services.access.create_client("acme", "app", [Scope.READ])
    old_token = services.access.login("app", old).token
    _, new = services.access.rotate_client("acme", "app", 90)
    end = clock.us + 90 * 1_000_000
    assert services.access.authenticate(new).client == "app"
    assert services.access.authenticate(old).client == "app"  # in its grace
    assert services.access.authenticate_token(old_token).client == "app"
    clock.us = end - 1
    assert services.access.authenticate(old).client == "app"
    assert services.access.authenticate_token(old_token).client == "app"
    clock.us = end
    with pytest.raises(Unauthenticated):
        services.access.authenticate(old)
    with pytest.raises(Unauthenticated):  # a token lives no longer than the key it came from
        services.access.authenticate_token(old_token)
    with pytest.raises(Unauthenticated):
        services.access.login("app", old)
    assert services.access.authenticate(new).client == "app"


def test_grace_zero_ends_the_old_key_and_its_tokens_at_once(
    services: Services, store: CredentialStore
) -> None:
    _, old = services.access.create_client("acme", "app", [Scope.READ])
    old_token = services.access.login("app", old)
    client, new = services.access.rotate_client("acme", "app", 0)
    assert client.previous_key_hash is None
    for attempt in (
        lambda: services.access.authenticate(old),
        lambda: services.access.login("app", old),
    ):
        with pytest.raises(Unauthenticated):
            attempt()
    with pytest.raises(Unauthenticated):
        services.access.authenticate_token(old_token.token)
    assert stored_token(store, old_token.record.token_hash) is None  # deleted with the rotation
    new_token = services.access.login("app", new).token
    assert services.access.authenticate_token(new_token).client == "app"


def test_second_rotation_during_grace_ends_the_first_key(
    services: Services, clock: FakeClock
) -> None:
    _, first = services.access.create_client("acme", "app", [Scope.READ])
    first_token = services.access.login("app", first).token
    _, second = services.access.rotate_client("acme", "app", 3600)
    second_token = services.access.login("app", second).token
    clock.advance(60)
    _, third = services.access.rotate_client("acme", "app", 3600)
    with pytest.raises(Unauthenticated):
        services.access.authenticate(first)  # replaced as the previous key, an hour early
    with pytest.raises(Unauthenticated):
        services.access.authenticate_token(first_token)
    assert services.access.authenticate(second).client == "app"  # now the previous key, in grace
    assert services.access.authenticate_token(second_token).client == "app"
    assert services.access.authenticate(third).client == "app"
    clock.advance(3600)
    with pytest.raises(Unauthenticated):
        services.access.authenticate(second)
    with pytest.raises(Unauthenticated):
        services.access.authenticate_token(second_token)


def test_revoke_kills_key_and_tokens_and_spares_other_clients(
    services: Services, store: CredentialStore
) -> None:
    _, key = services.access.create_client("acme", "app", [Scope.READ])
    _, other = services.access.create_client("acme", "other", [Scope.READ])
    tokens = [services.access.login("app", key) for _ in range(3)]
    other_token = services.access.login("other", other).token
    services.access.revoke_client("acme", "app")
    with pytest.raises(Unauthenticated):
        services.access.authenticate(key)
    for issued in tokens:
        with pytest.raises(Unauthenticated):
            services.access.authenticate_token(issued.token)
        with pytest.raises(Unauthenticated):
            services.access.refresh_token(issued.token)
        assert stored_token(store, issued.record.token_hash) is None
    assert services.access.authenticate_token(other_token).client == "other"
    assert [c.name for c in services.access.list_clients("acme")] == ["other"]
    with pytest.raises(NotFound):
        services.access.revoke_client("acme", "app")
    with pytest.raises(NotFound):
        services.access.rotate_client("acme", "app", 0)


def test_new_scopes_hold_for_the_next_request_and_existing_tokens(
    services: Services,
) -> None:
    _, key = services.access.create_client("acme", "app", [Scope.READ])
    token = services.access.login("app", key).token
    with pytest.raises(Forbidden):
        services.access.authenticate_token(token, Scope.WRITE)
    updated = services.access.update_client_scopes("acme", "app", [Scope.READ, Scope.WRITE])
    assert updated.scopes == {Scope.READ, Scope.WRITE}
    assert services.access.authenticate_token(token, Scope.WRITE).client == "app"
    assert services.access.authenticate(key, Scope.WRITE).client == "app"
    services.access.update_client_scopes("acme", "app", [Scope.VERIFY])
    with pytest.raises(Forbidden):
        services.access.authenticate_token(token, Scope.READ)


@pytest.mark.parametrize(
    ("tenant", "scopes"),
    [("acme", [Scope.SEAL]), ("acme", [Scope.READ, Scope.SEAL]), ("system", [Scope.READ])],
)
def test_seal_stays_in_the_system_tenant(
    services: Services, tenant: str, scopes: list[Scope]
) -> None:
    services.access.create_client("acme", "app", [Scope.READ])
    services.access.create_client("system", "app", [Scope.SEAL])
    before = {
        c.tenant: c.scopes for t in ("acme", "system") for c in services.access.list_clients(t)
    }
    with pytest.raises(InvalidInput):
        services.access.update_client_scopes(tenant, "app", scopes)
    with pytest.raises(InvalidInput):
        services.access.update_client_scopes(tenant, "app", [])
    after = {
        c.tenant: c.scopes for t in ("acme", "system") for c in services.access.list_clients(t)
    }
    assert after == before


def test_last_used_is_coarse(services: Services, store: CredentialStore, clock: FakeClock) -> None:
    _, key = services.access.create_client("acme", "app", [Scope.READ])
    assert services.access.list_clients("acme")[0].last_used_at_us == 0
    start = clock.us
    token = services.access.login("app", key).token
    for _ in range(50):  # a minute of requests: the first one writes, the rest read only
        clock.advance(1)
        services.access.authenticate(key)
        services.access.authenticate_token(token)
    assert services.access.list_clients("acme")[0].last_used_at_us == start
    if isinstance(store, CountingSqlite):
        assert store.touches == 1
    clock.us = start + access.LAST_USED_GRANULARITY_US  # a minute: not yet older than that
    services.access.authenticate(key)
    assert services.access.list_clients("acme")[0].last_used_at_us == start
    clock.us += 1
    services.access.authenticate_token(token)
    assert services.access.list_clients("acme")[0].last_used_at_us == clock.us
    if isinstance(store, CountingSqlite):
        assert store.touches == 2


def test_wrong_key_records_no_use(services: Services) -> None:
    services.access.create_client("acme", "app", [Scope.READ])
    with pytest.raises(Unauthenticated):
        services.access.authenticate("x" * access.KEY_LENGTH)
    assert services.access.list_clients("acme")[0].last_used_at_us == 0


def test_list_clients_of_one_tenant_or_all(services: Services) -> None:
    services.access.create_client("beta", "b", [Scope.READ])
    services.access.create_client("acme", "a2", [Scope.READ])
    services.access.create_client("acme", "a1", [Scope.VERIFY])
    assert [(c.tenant, c.name) for c in services.access.list_clients()] == [
        ("acme", "a1"),
        ("acme", "a2"),
        ("beta", "b"),
    ]
    assert [c.name for c in services.access.list_clients("beta")] == ["b"]
    with pytest.raises(NotFound):
        services.access.list_clients("ghost")


def test_lifecycle_audit_lines_name_the_client_never_the_key(
    services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, first = services.access.create_client("acme", "app", [Scope.READ])
    _, second = services.access.rotate_client("acme", "app", 60)
    rotated = services.access.list_clients("acme")[0]
    services.access.update_client_scopes("acme", "app", [Scope.VERIFY])
    services.access.revoke_client("acme", "app")
    text = caplog.text
    lines = text.splitlines()
    assert any(
        "client rotate tenant=acme" in x and "target=app outcome=ok grace=60s" in x for x in lines
    )
    assert any(
        "client update tenant=acme" in x and "target=app outcome=ok scopes=verify" in x
        for x in lines
    )
    assert any("client revoke tenant=acme" in x and "target=app outcome=ok" in x for x in lines)
    for secret in (first, second, client.key_hash, rotated.key_hash):
        assert secret not in text


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("2D", 172800)],
)
def test_grace_durations(text: str, seconds: int) -> None:
    assert access.parse_grace(text) == seconds


@pytest.mark.parametrize("text", ["", "-1", "1x", "1h30m", "31d", "1.5h", "\u0661h", "99999999"])
def test_bad_grace_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput):
        access.parse_grace(text)
