"""The NasStore contract over both backends (memory and SQLite), and the pure NAS rules."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from otpd.core.errors import AlreadyExists, InvalidInput, NotFound
from otpd.core.nas import (
    MaPolicy,
    NasClient,
    NasMode,
    RadiusChallenge,
    check_overlaps,
    parse_networks,
)
from otpd.core.ports import NasStore
from tests.support.stores import BACKENDS, add_credential, make_tenant, open_store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Every backend of the CredentialStore contract suite, with two tenants."""
    backend = open_store(request.param, tmp_path, request)
    backend.create_tenant(make_tenant("acme"))
    backend.create_tenant(make_tenant("globex"))
    yield backend
    backend.close()


def _nas(name: str = "fw", tenant: str = "acme", *nets: str, **kw: Any) -> NasClient:
    return NasClient(tenant, name, nets or ("192.0.2.0/24",), b"sealed-" + name.encode(), **kw)


def test_nas_round_trip_and_listing(store: NasStore) -> None:
    nas = _nas(
        mode=NasMode.PASSWORD_OTP,
        message_authenticator=MaPolicy.AUTO,
        strip_realm=True,
        reply_attributes=(("Class", "x"), ("Session-Timeout", "60")),
        group_attribute="Filter-Id",
        ldap_url="ldap://127.0.0.1",
        ldap_bind_dn="uid={user},dc=x",
        created_at=5,
    )
    store.insert_nas(nas)
    store.insert_nas(_nas("other", "globex", "198.51.100.1/32"))
    assert store.list_nas("acme") == [nas]
    assert [n.name for n in store.list_nas()] == ["fw", "other"]
    with pytest.raises(AlreadyExists):
        store.insert_nas(nas)
    with pytest.raises(NotFound):
        store.insert_nas(_nas("x", "nope"))


def test_replace_keeps_ma_seen_and_delete(store: NasStore) -> None:
    store.insert_nas(_nas(message_authenticator=MaPolicy.AUTO))
    store.mark_nas_message_authenticator("acme", "fw")
    assert store.list_nas("acme")[0].ma_seen
    assert store.replace_nas(_nas(mode=NasMode.CHALLENGE))
    (after,) = store.list_nas("acme")
    assert after.mode is NasMode.CHALLENGE and after.ma_seen
    assert not store.replace_nas(_nas("missing"))
    assert store.delete_nas("acme", "fw")
    assert not store.delete_nas("acme", "fw")


def test_challenge_taken_once_and_only_while_live(store: NasStore) -> None:
    live = RadiusChallenge("a" * 64, "acme", "fw", "alice", expires_at_us=1000)
    store.insert_radius_challenge(live)
    assert store.take_radius_challenge("a" * 64, now_us=1001) is None  # expired
    store.insert_radius_challenge(RadiusChallenge("b" * 64, "acme", "fw", "bob", 2000))
    assert store.take_radius_challenge("b" * 64, now_us=1500) == RadiusChallenge(
        "b" * 64, "acme", "fw", "bob", 2000
    )
    assert store.take_radius_challenge("b" * 64, now_us=1500) is None  # single use
    store.insert_radius_challenge(RadiusChallenge("c" * 64, "acme", "fw", "c", 10))
    assert store.delete_expired_radius_challenges(now_us=100) == 1


def test_group_label_follows_the_credential(store: Any) -> None:
    add_credential(store, "acme", "alice")
    assert store.get_radius_group("acme", "alice") is None
    assert store.set_radius_group("acme", "alice", "admins")
    assert store.get_radius_group("acme", "alice") == "admins"
    assert store.get_radius_group("globex", "alice") is None
    assert not cast(NasStore, store).set_radius_group("acme", "nobody", "x")
    store.delete_credential("acme", "alice")
    add_credential(store, "acme", "alice")  # a new credential of the same name
    assert store.get_radius_group("acme", "alice") is None


def test_networks_are_normalised_and_checked() -> None:
    assert parse_networks(["192.0.2.7", "10.0.0.0/8,2001:db8::1"]) == (
        "192.0.2.7/32",
        "10.0.0.0/8",
        "2001:db8::1/128",
    )
    for bad in (["nope"], [""], ["10.0.0.1/33"]):
        with pytest.raises(InvalidInput):
            parse_networks(bad)


def test_overlap_across_tenants_refused_nested_within_one_allowed() -> None:
    wide = _nas("wide", "acme", "10.0.0.0/8")
    with pytest.raises(InvalidInput, match="another tenant"):
        check_overlaps(_nas("x", "globex", "10.1.2.3/32"), [wide])
    check_overlaps(_nas("narrow", "acme", "10.1.0.0/16"), [wide])
    with pytest.raises(InvalidInput, match="already"):
        check_overlaps(_nas("same", "acme", "10.0.0.0/8"), [wide])
    check_overlaps(_nas("v6", "globex", "::/0"), [wide])  # other address family
    assert "sealed" not in repr(wide)
