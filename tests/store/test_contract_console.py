"""The console part of the store contract (issue #16, ports.ConsoleStore), over every backend:
admins, sessions and their timeouts, credential state, keyset search, client revocation."""

from __future__ import annotations

from typing import Any, cast

import pytest

from otpd.core.console import AdminAccount, ConsoleSession
from otpd.core.errors import AlreadyExists
from otpd.core.model import Scope, TokenRecord
from otpd.core.ports import ConsoleStore, CredentialStore
from tests.support.stores import add_credential, make_client, make_tenant, stored_token

IDLE, ABSOLUTE = 100, 1_000


def _console(store: CredentialStore) -> ConsoleStore:
    return cast(ConsoleStore, store)


def test_admin_round_trip(store: CredentialStore) -> None:
    store.create_tenant(make_tenant())
    admin = AdminAccount("alice", "acme", "$argon2id$x", "console-admin.alice", 5)
    _console(store).insert_admin(admin)
    _console(store).insert_admin(AdminAccount("root", None, "$argon2id$y", "c.root", 6))
    assert _console(store).get_admin("alice") == admin
    assert _console(store).get_admin("root") is not None
    assert _console(store).get_admin("nobody") is None
    with pytest.raises(AlreadyExists):
        _console(store).insert_admin(admin)


def test_session_idle_and_absolute_timeouts(store: CredentialStore) -> None:
    console = _console(store)
    console.insert_admin(AdminAccount("root", None, "h", "c", 0))
    console.insert_session(ConsoleSession("s1", "root", "csrf", 1_000, 1_000))
    assert console.touch_session("s1", 1_050, IDLE, ABSOLUTE) is not None
    seen = console.touch_session("s1", 1_140, IDLE, ABSOLUTE)  # 90 after the last touch
    assert seen is not None
    assert seen.seen_at_us == 1_140
    assert console.touch_session("s1", 1_240, IDLE, ABSOLUTE) is None  # idle for 100
    assert console.touch_session("s1", 1_241, IDLE, ABSOLUTE) is None  # and gone
    console.insert_session(ConsoleSession("s2", "root", "csrf", 1_000, 1_000))
    for now in range(1_090, 2_200, 90):  # kept busy, yet the absolute timeout ends it
        if console.touch_session("s2", now, IDLE, ABSOLUTE) is None:
            assert now >= 2_000  # created at 1,000: not a moment before 1,000 later
            break
    else:
        pytest.fail("the absolute timeout never ended the session")
    console.insert_session(ConsoleSession("s3", "root", "csrf", 1_000, 1_000))
    console.delete_session("s3")
    assert console.touch_session("s3", 1_001, IDLE, ABSOLUTE) is None
    console.insert_session(ConsoleSession("s4", "root", "csrf", 1_000, 1_000))
    assert console.delete_sessions_older_than(1_000) == 1


def test_credential_state(store: CredentialStore) -> None:
    record = add_credential(store)
    assert record.state == "active"
    assert _console(store).set_credential_state("acme", "alice", "disabled")
    found = store.get_credential("acme", "alice")
    assert found is not None
    assert found.state == "disabled"
    assert not _console(store).set_credential_state("acme", "nobody", "disabled")
    assert not _console(store).set_credential_state("other", "alice", "disabled")


def test_keyset_search(store: CredentialStore) -> None:
    names = [f"u{i:03d}" for i in range(120)] + ["v000", "u"]
    for name in names:
        add_credential(store, name=name)
    add_credential(store, tenant="other", name="u050")
    console = _console(store)
    first = console.search_credentials("acme", "u", "", 50)
    assert [r.name for r in first.rows] == ["u", *[f"u{i:03d}" for i in range(49)]]
    assert first.next_after == "u048"
    second = console.search_credentials("acme", "u", first.next_after, 50)
    assert second.rows[0].name == "u049"
    third = console.search_credentials("acme", "u", "u098", 50)
    assert [r.name for r in third.rows] == [f"u{i:03d}" for i in range(99, 120)]
    assert third.next_after is None
    narrow = console.search_credentials("acme", "u05", "", 50)
    assert [r.name for r in narrow.rows] == [f"u05{i}" for i in range(10)]
    assert all(r.tenant == "acme" for r in narrow.rows)
    assert console.search_credentials("acme", "w", "", 50).rows == []


def test_delete_client_takes_its_tokens(store: CredentialStore) -> None:
    store.create_tenant(make_tenant())
    store.create_client(make_client(name="app", scopes=frozenset({Scope.READ})))
    store.create_client(make_client(name="keep"))
    store.insert_token(TokenRecord("t-app", "a1", "acme", "app", 0, 0, 10**18))
    store.insert_token(TokenRecord("t-keep", "a2", "acme", "keep", 0, 0, 10**18))
    assert store.delete_client("acme", "app")
    assert store.get_client("acme", "app") is None
    assert stored_token(store, "t-app") is None
    assert stored_token(store, "t-keep") is not None
    assert not store.delete_client("acme", "app")


def test_delete_tenant_takes_its_admins_their_sessions_and_totp(store: CredentialStore) -> None:
    """A tenant admin goes with its tenant, with its sessions and its TOTP credential in the
    `system` tenant; an admin of every tenant stays."""
    store.create_tenant(make_tenant())
    add_credential(store, "system", "console-admin.alice")
    add_credential(store, "system", "console-admin.root")
    _console(store).insert_admin(
        AdminAccount("alice", "acme", "$argon2id$x", "console-admin.alice")
    )
    _console(store).insert_admin(AdminAccount("root", None, "$argon2id$y", "console-admin.root"))
    _console(store).insert_session(ConsoleSession("s-alice", "alice", "c", 1, 1))
    _console(store).insert_session(ConsoleSession("s-root", "root", "c", 1, 1))
    rows: Any = store
    assert rows.delete_tenant("acme", erase=False)["console_admin"] == 1
    assert _console(store).get_admin("alice") is None
    assert store.get_credential("system", "console-admin.alice") is None
    assert _console(store).get_admin("root") is not None
    assert store.get_credential("system", "console-admin.root") is not None
    assert _console(store).touch_session("s-alice", 2, 10**9, 10**9) is None
    assert _console(store).touch_session("s-root", 2, 10**9, 10**9) is not None
