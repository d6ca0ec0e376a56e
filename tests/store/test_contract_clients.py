"""The API-client lifecycle part of the CredentialStore contract (issue #14), over every
backend: revoke with its tokens, rotate keeping one previous key, scopes, coarse last-used,
and a bearer token read together with its client."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from otpd.core.errors import AlreadyExists
from otpd.core.model import Scope
from otpd.core.ports import CredentialStore
from otpd.store import migrate
from otpd.store.sqlite import SqliteStore
from otpd.store.sqlite_connect import split as _split
from tests.support.stores import key_hash, make_client, make_tenant, make_token, stored_token


def _two_clients(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    store.create_client(make_client("acme", "app", key_hash=key_hash("k1")))
    store.create_client(make_client("acme", "other", key_hash=key_hash("o1")))


def test_token_with_client_in_one_lookup(store: CredentialStore) -> None:
    _two_clients(store)
    token = make_token("t1", client_key_hash=key_hash("k1"))
    store.insert_token(token)
    assert stored_token(store, token.token_hash) == token
    assert store.get_token_with_client(token.token_hash) == (
        token,
        store.get_client("acme", "app"),
    )
    assert store.get_token_with_client(key_hash("unknown")) is None
    orphan = make_token("t2", client="ghost")  # a token whose client is gone never resolves
    store.insert_token(orphan)
    assert store.get_token_with_client(orphan.token_hash) is None


def test_delete_client_takes_its_tokens_only(store: CredentialStore) -> None:
    _two_clients(store)
    store.insert_token(make_token("a1"))
    store.insert_token(make_token("a2"))
    store.insert_token(make_token("b1", client="other"))
    assert store.delete_client("acme", "app") is True
    assert store.get_client("acme", "app") is None
    assert store.find_client_by_key_hash(key_hash("k1")) is None
    assert stored_token(store, key_hash("a1")) is None
    assert stored_token(store, key_hash("a2")) is None
    assert stored_token(store, key_hash("b1")) == make_token("b1", client="other")
    assert store.delete_client("acme", "app") is False
    assert [c.name for c in store.list_clients("acme")] == ["other"]


def test_rotate_keeps_one_previous_key(store: CredentialStore) -> None:
    _two_clients(store)
    assert store.rotate_client_key("acme", "app", key_hash("k2"), 5_000) is True
    client = store.get_client("acme", "app")
    assert client is not None
    assert (client.key_hash, client.previous_key_hash) == (key_hash("k2"), key_hash("k1"))
    assert client.previous_key_expires_at_us == 5_000
    # Found by either key: the core compares the expiry with its clock.
    assert store.find_client_by_key_hash(key_hash("k1")) == client
    assert store.find_client_by_key_hash(key_hash("k2")) == client
    # A second rotation replaces the previous key; None drops it.
    assert store.rotate_client_key("acme", "app", key_hash("k3"), 9_000) is True
    assert store.find_client_by_key_hash(key_hash("k1")) is None
    client = store.get_client("acme", "app")
    assert client is not None and client.previous_key_hash == key_hash("k2")
    assert store.rotate_client_key("acme", "app", key_hash("k4"), None) is True
    client = store.get_client("acme", "app")
    assert client is not None
    assert (client.key_hash, client.previous_key_hash) == (key_hash("k4"), None)
    assert client.previous_key_expires_at_us == 0
    assert store.find_client_by_key_hash(key_hash("k3")) is None
    assert store.rotate_client_key("acme", "ghost", key_hash("k5"), None) is False


def test_rotate_deletes_the_tokens_of_dead_keys(store: CredentialStore) -> None:
    _two_clients(store)
    store.insert_token(make_token("by-k1", client_key_hash=key_hash("k1")))
    store.insert_token(make_token("other", client="other", client_key_hash=key_hash("o1")))
    store.rotate_client_key("acme", "app", key_hash("k2"), 5_000)
    assert stored_token(store, key_hash("by-k1")) is not None  # its key is in grace
    store.insert_token(make_token("by-k2", client_key_hash=key_hash("k2")))
    store.rotate_client_key("acme", "app", key_hash("k3"), 9_000)
    assert stored_token(store, key_hash("by-k1")) is None  # k1 is gone
    assert stored_token(store, key_hash("by-k2")) is not None
    store.rotate_client_key("acme", "app", key_hash("k4"), None)
    assert stored_token(store, key_hash("by-k2")) is None
    assert stored_token(store, key_hash("other")) is not None


def test_rotate_to_another_clients_key_is_refused(store: CredentialStore) -> None:
    _two_clients(store)
    with pytest.raises(AlreadyExists):
        store.rotate_client_key("acme", "app", key_hash("o1"), None)
    client = store.get_client("acme", "app")
    assert client is not None and client.key_hash == key_hash("k1")


def test_set_client_scopes(store: CredentialStore) -> None:
    _two_clients(store)
    scopes = frozenset({Scope.READ, Scope.WRITE})
    assert store.set_client_scopes("acme", "app", scopes) is True
    client = store.get_client("acme", "app")
    assert client is not None and client.scopes == scopes
    assert store.set_client_scopes("acme", "ghost", scopes) is False


def test_touch_client_writes_only_a_stale_value(store: CredentialStore) -> None:
    _two_clients(store)
    assert store.touch_client("acme", "app", 100, stale_before_us=40) is True
    assert store.touch_client("acme", "app", 130, stale_before_us=70) is False  # 100 is fresh
    client = store.get_client("acme", "app")
    assert client is not None and client.last_used_at_us == 100
    assert store.touch_client("acme", "app", 170, stale_before_us=110) is True
    client = store.get_client("acme", "app")
    assert client is not None and client.last_used_at_us == 170
    other = store.get_client("acme", "other")
    assert other is not None and other.last_used_at_us == 0
    assert store.touch_client("acme", "ghost", 170, stale_before_us=110) is False


def test_migration_009_gives_old_tokens_their_clients_key(tmp_path: Path) -> None:
    """A database from before 009: its tokens belong to their client's key, and keep working."""
    path = tmp_path / "old.db"
    settings = '{"allowed_operations": [], "client_cert_subjects": [], "phenixid_auth": "basic"}'
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate.apply(conn, migrate.load()[:8], split=_split)
        conn.execute(
            "INSERT INTO tenant (id, settings, created_at) VALUES ('acme', ?, 0)", (settings,)
        )
        conn.execute(
            "INSERT INTO api_client (tenant, name, scopes, key_hash, created_at)"
            " VALUES ('acme', 'app', 'read', ?, 0)",
            (key_hash("k"),),
        )
        for token_hash, client in (("h1", "app"), ("h2", "gone")):
            conn.execute(
                "INSERT INTO token (token_hash, accessor, tenant, client, created_at_us,"
                " renewed_at_us, expires_at_us) VALUES (?, 'acc', 'acme', ?, 1, 1, 9000)",
                (token_hash, client),
            )
    store = SqliteStore(path)
    try:
        found = store.get_token_with_client("h1")
        assert found is not None
        assert found[0].client_key_hash == key_hash("k") == found[1].key_hash
        assert found[1].previous_key_hash is None and found[1].last_used_at_us == 0
        orphan = stored_token(store, "h2")
        assert orphan is not None and orphan.client_key_hash == ""
    finally:
        store.close()
