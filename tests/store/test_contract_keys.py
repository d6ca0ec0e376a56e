"""Key rows (issue #14) on every backend: tenant keys, compare-and-set re-sealing, the atomic
meta swap of a rekey, and the cascading tenant delete."""

from __future__ import annotations

from typing import Any

from otpd.core.enrolment import EnrolmentTicket
from otpd.core.nas import NasClient
from otpd.core.ports import CredentialStore
from tests.support.stores import (
    add_credential,
    key_hash,
    make_client,
    make_tenant,
    make_token,
    stored_token,
)


def _rows(store: CredentialStore) -> Any:
    return store  # the key-row methods are on every store (otpd.store.key_rows)


def test_tenant_key_versions_insert_once(store: CredentialStore) -> None:
    rows = _rows(store)
    assert rows.tenant_keys("acme") == []
    assert rows.add_tenant_key("acme", 1, "w1", 100)
    assert not rows.add_tenant_key("acme", 1, "other", 101)  # one writer wins a version
    assert rows.add_tenant_key("acme", 2, "w2", 102)
    assert rows.add_tenant_key("beta", 1, "b1", 103)
    assert [(r.version, r.wrapped, r.created_at) for r in rows.tenant_keys("acme")] == [
        (1, "w1", 100),
        (2, "w2", 102),
    ]
    assert [(r.tenant, r.version) for r in rows.all_tenant_keys()] == [
        ("acme", 1),
        ("acme", 2),
        ("beta", 1),
    ]
    assert rows.retire_tenant_key("acme", 1)
    assert not rows.retire_tenant_key("acme", 1)
    assert [r.version for r in rows.tenant_keys("acme")] == [2]


def test_reseal_is_a_compare_and_set(store: CredentialStore) -> None:
    rows = _rows(store)
    first = add_credential(store, name="alice")
    add_credential(store, name="bob")
    page = rows.sealed_rows(0, 1)
    assert [(r.kind, r.tenant, r.ref, r.blob) for r in page] == [
        ("credential", "acme", str(first.id), first.sealed_secret)
    ]
    assert len(rows.sealed_rows(first.id, 10)) == 1
    assert rows.reseal(page[0], b"new-blob")
    assert not rows.reseal(page[0], b"newer")  # the blob changed since it was read
    record = store.get_credential("acme", "alice")
    assert record is not None and record.sealed_secret == b"new-blob"
    assert record.version == first.version  # re-encryption is not a change of the credential


def test_nas_rows_reseal(store: CredentialStore) -> None:
    rows: Any = store
    store.create_tenant(make_tenant("acme"))
    rows.insert_nas(NasClient("acme", "vpn", ("192.0.2.0/24",), b"sealed-vpn"))
    (nas,) = rows.nas_sealed_rows()
    assert (nas.kind, nas.tenant, nas.ref, nas.blob) == ("nas", "acme", "vpn", b"sealed-vpn")
    assert rows.reseal(nas, b"resealed")
    assert not rows.reseal(nas, b"again")
    assert rows.list_nas("acme")[0].sealed_secret == b"resealed"


def test_swap_meta_is_all_or_nothing(store: CredentialStore) -> None:
    rows = _rows(store)
    rows.put_meta("a", "1")
    rows.put_meta("b", "2")
    rows.put_meta("b", "2b")  # put_meta replaces
    assert not rows.swap_meta({"a": ("1", "x"), "b": ("2", "y")})  # b is not "2" any more
    assert (store.get_meta("a"), store.get_meta("b")) == ("1", "2b")
    assert rows.swap_meta({"a": ("1", "x"), "b": ("2b", "y")})
    assert (store.get_meta("a"), store.get_meta("b")) == ("x", "y")
    rows.delete_meta("a")
    assert store.get_meta("a") is None


def _populate(store: CredentialStore, tenant: str) -> int:
    rows: Any = store
    record = add_credential(store, tenant=tenant, name="alice")
    store.create_client(make_client(tenant, "app"))
    store.insert_token(make_token(f"tok-{tenant}", tenant=tenant))
    store.insert_enrolment_ticket(EnrolmentTicket(f"t-{tenant}", tenant, record.id, 10**18))
    rows.insert_nas(NasClient(tenant, "vpn", ("192.0.2.0/24",), b"sealed"))
    rows.set_radius_group(tenant, "alice", "staff")
    rows.add_tenant_key(tenant, 1, "w", 1)
    return record.id


def test_delete_tenant_cascades_and_spares_others(store: CredentialStore) -> None:
    rows: Any = store
    gone_id = _populate(store, "acme")
    _populate(store, "beta")
    counts = rows.delete_tenant("acme")
    assert counts["credential"] == 1 and counts["api_client"] == 1 and counts["token"] == 1
    assert counts["enrolment_ticket"] == 1 and counts["radius_nas"] == 1
    assert store.get_tenant("acme") is None
    assert store.list_credentials("acme") == [] and store.list_clients("acme") == []
    assert stored_token(store, key_hash("tok-acme")) is None
    assert stored_token(store, key_hash("tok-beta")) is not None
    assert store.get_enrolment_ticket("t-acme") is None
    assert rows.list_nas("acme") == []
    assert store.get_credential_by_id("acme", gone_id) is None
    assert [r.version for r in rows.tenant_keys("acme")] == [1]  # kept without --erase
    # beta untouched
    assert len(store.list_credentials("beta")) == 1 and store.get_enrolment_ticket("t-beta")
    assert rows.get_radius_group("beta", "alice") == "staff"
    assert rows.delete_tenant("nobody") == {}


def test_delete_tenant_with_erase_destroys_its_keys_only(store: CredentialStore) -> None:
    rows: Any = store
    _populate(store, "acme")
    _populate(store, "beta")
    assert rows.delete_tenant("acme", erase=True)["tenant_key"] == 1
    assert rows.tenant_keys("acme") == []
    assert [r.version for r in rows.tenant_keys("beta")] == [1]
