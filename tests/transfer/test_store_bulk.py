"""The bulk methods of both SQL stores (SQLite and PostgreSQL): a batch is one transaction,
written whole or not at all; the replay floor only ever raises last_step."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Protocol, cast

import pytest

from otpd.core.errors import AlreadyExists, NotFound
from otpd.core.model import CredentialRecord, OtpParams, Tenant, ThrottleState
from otpd.core.ports import BulkCredentialStore, CredentialStore
from tests.support.stores import open_store


class Store(BulkCredentialStore, CredentialStore, Protocol):
    """What these tests call: both interfaces, as SqliteStore and PostgresStore have."""


def record(store: Store, credential_id: int, name: str, period: int = 30) -> CredentialRecord:
    return CredentialRecord(
        id=credential_id,
        tenant="acme",
        name=name,
        params=OtpParams(period=period),
        key_size=20,
        issuer="Acme",
        account_name=name,
        email=None,
        phone=None,
        created_at_us=1,
        sealed_secret=b"sealed",
        last_step=5,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_store(request.param, tmp_path, request)
    assert isinstance(s, BulkCredentialStore)
    s.create_tenant(Tenant("acme"))
    yield cast(Store, s)
    s.close()


def test_ids_are_a_fresh_range(store: Store) -> None:
    assert store.allocate_credential_ids(3) == [1, 2, 3]
    assert store.allocate_credential_id() == 4
    assert store.allocate_credential_ids(2) == [5, 6]


def test_a_clashing_batch_writes_nothing(store: Store) -> None:
    ids = store.allocate_credential_ids(4)
    store.write_credentials([record(store, ids[0], "taken")], [])
    batch = [record(store, ids[1], "a"), record(store, ids[2], "b"), record(store, ids[3], "taken")]
    with pytest.raises(AlreadyExists):
        store.write_credentials(batch, [])
    assert [c.name for c in store.list_credentials("acme")] == ["taken"]
    ghost = record(store, 999, "ghost")
    with pytest.raises(NotFound):
        store.write_credentials([record(store, ids[1], "a")], [ghost])
    assert store.count_credentials("acme") == 1


def test_replace_keeps_the_higher_step_and_bumps_the_version(store: Store) -> None:
    (cid,) = store.allocate_credential_ids(1)
    store.write_credentials([record(store, cid, "a")], [])
    store.advance(cid, 100)
    store.write_credentials([], [replace(record(store, cid, "a"), last_step=50)])
    after = store.get_credential("acme", "a")
    assert after is not None and (after.last_step, after.version) == (100, 2)
    got = store.get_credentials_by_name("acme", ["a", "missing"])
    assert list(got) == ["a"]


def test_replay_floor_raises_by_each_period_and_skew(store: Store) -> None:
    ids = store.allocate_credential_ids(3)
    store.write_credentials(
        [
            record(store, ids[0], "p30"),
            record(store, ids[1], "p60", 60),
            record(store, ids[2], "x"),
        ],
        [],
    )
    store.advance(ids[2], 10**9)
    assert store.raise_replay_floor(6000) == 3
    steps = {c.name: c.last_step for c in store.list_credentials("acme")}
    assert steps == {"p30": 6000 // 30 + 1, "p60": 6000 // 60 + 1, "x": 10**9}


def test_a_batch_keeps_every_column_and_a_replace_clears_the_failures(store: Store) -> None:
    (cid,) = store.allocate_credential_ids(1)
    throttled = replace(
        record(store, cid, "t"), throttle=ThrottleState(3, 2_000_000_000, 1_900_000_000), refused=7
    )
    store.write_credentials([throttled], [])
    assert store.get_credentials_by_name("acme", ["t"]) == {"t": throttled}
    store.write_credentials([], [replace(throttled, throttle=ThrottleState())])
    after = store.get_credential("acme", "t")
    assert after is not None
    assert (after.throttle, after.refused, after.version) == (ThrottleState(), 7, 2)
