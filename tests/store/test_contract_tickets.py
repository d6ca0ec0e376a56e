"""The enrolment-ticket part of the CredentialStore contract (issue #5), and the console's
self-service enrolment writes (issue #16: start and finish, each one transaction), over every
backend."""

from __future__ import annotations

import hashlib
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from otpd.core.enrolment import EnrolmentTicket
from otpd.core.errors import AlreadyExists, NotFound
from otpd.core.ports import CredentialStore
from otpd.store import migrate
from otpd.store.sqlite import SqliteStore
from otpd.store.sqlite_connect import split as _split
from tests.support.stores import add_credential


def _ticket(
    label: str, credential_id: int, tenant: str = "acme", expires: int = 2_000
) -> EnrolmentTicket:
    digest = hashlib.sha256(label.encode()).hexdigest()
    return EnrolmentTicket(digest, tenant, credential_id, expires)


def test_ticket_round_trip(store: CredentialStore) -> None:
    record = add_credential(store)
    ticket = _ticket("t1", record.id)
    store.insert_enrolment_ticket(ticket)
    assert store.get_enrolment_ticket(ticket.ticket_hash) == ticket
    assert store.get_enrolment_ticket(_ticket("t2", record.id).ticket_hash) is None


def test_several_tickets_per_credential(store: CredentialStore) -> None:
    record = add_credential(store)
    tickets = [_ticket(f"t{i}", record.id, expires=1_000 + i) for i in range(3)]
    for ticket in tickets:
        store.insert_enrolment_ticket(ticket)
    assert [store.get_enrolment_ticket(t.ticket_hash) for t in tickets] == tickets


def test_duplicate_hash_is_refused(store: CredentialStore) -> None:
    record = add_credential(store)
    store.insert_enrolment_ticket(_ticket("t1", record.id))
    with pytest.raises(AlreadyExists):
        store.insert_enrolment_ticket(_ticket("t1", record.id, expires=9_999))
    kept = store.get_enrolment_ticket(_ticket("t1", record.id).ticket_hash)
    assert kept is not None and kept.expires_at_us == 2_000


def test_ticket_needs_the_credential_in_its_tenant(store: CredentialStore) -> None:
    record = add_credential(store, "acme", "alice")
    add_credential(store, "globex", "bob")
    with pytest.raises(NotFound):
        store.insert_enrolment_ticket(_ticket("missing", record.id + 100))
    with pytest.raises(NotFound):  # the id exists, but in another tenant
        store.insert_enrolment_ticket(_ticket("foreign", record.id, tenant="globex"))
    assert store.get_enrolment_ticket(_ticket("missing", 0).ticket_hash) is None
    assert store.get_enrolment_ticket(_ticket("foreign", 0).ticket_hash) is None


def test_deleting_the_credential_deletes_its_tickets(store: CredentialStore) -> None:
    alice = add_credential(store, name="alice")
    bob = add_credential(store, name="bob")
    store.insert_enrolment_ticket(_ticket("a", alice.id))
    store.insert_enrolment_ticket(_ticket("b", bob.id))
    assert store.delete_credential("acme", "alice")
    assert store.get_enrolment_ticket(_ticket("a", alice.id).ticket_hash) is None
    assert store.get_enrolment_ticket(_ticket("b", bob.id).ticket_hash) is not None


def test_delete_expired_tickets(store: CredentialStore) -> None:
    record = add_credential(store)
    for label, expires in (("old", 1_000), ("edge", 1_500), ("new", 2_000)):
        store.insert_enrolment_ticket(_ticket(label, record.id, expires=expires))
    assert store.delete_expired_enrolment_tickets(1_500) == 2  # expires_at_us <= now is gone
    assert store.get_enrolment_ticket(_ticket("old", 0).ticket_hash) is None
    assert store.get_enrolment_ticket(_ticket("edge", 0).ticket_hash) is None
    assert store.get_enrolment_ticket(_ticket("new", 0).ticket_hash) is not None
    assert store.delete_expired_enrolment_tickets(1_500) == 0


def test_hashes_are_data_not_sql(store: CredentialStore) -> None:
    record = add_credential(store)
    hostile = EnrolmentTicket("' OR '1'='1", "acme", record.id, 2_000)
    store.insert_enrolment_ticket(hostile)
    assert store.get_enrolment_ticket("' OR '1'='1") == hostile
    assert store.get_enrolment_ticket("%") is None


def _state(store: CredentialStore, name: str = "alice") -> str:
    found = store.get_credential("acme", name)
    assert found is not None
    return found.state


def test_start_enrolment_makes_the_credential_pending_with_its_ticket(
    store: CredentialStore,
) -> None:
    record = add_credential(store)
    ticket = _ticket("link", record.id)
    store.start_enrolment(ticket)
    assert _state(store) == "pending"
    assert store.get_enrolment_ticket(ticket.ticket_hash) == ticket


def test_start_enrolment_writes_nothing_when_it_fails(store: CredentialStore) -> None:
    record = add_credential(store)
    add_credential(store, "globex", "bob")
    with pytest.raises(NotFound):  # the id is another tenant's
        store.start_enrolment(_ticket("foreign", record.id, tenant="globex"))
    store.insert_enrolment_ticket(_ticket("taken", record.id))
    with pytest.raises(AlreadyExists):  # the hash is taken: the state change rolls back
        store.start_enrolment(_ticket("taken", record.id, expires=9_999))
    assert _state(store) == "active"
    found = store.get_credential("globex", "bob")
    assert found is not None and found.state == "active"


def test_finish_enrolment_activates_and_kills_every_ticket_at_once(
    store: CredentialStore,
) -> None:
    record = add_credential(store)
    other = add_credential(store, name="bob")
    store.start_enrolment(_ticket("first", record.id))
    store.insert_enrolment_ticket(_ticket("second", record.id))
    store.insert_enrolment_ticket(_ticket("bobs", other.id))
    assert not store.finish_enrolment("globex", record.id)  # another tenant's id: nothing
    assert _state(store) == "pending"
    assert store.finish_enrolment("acme", record.id)
    assert _state(store) == "active"
    for label in ("first", "second"):
        assert store.get_enrolment_ticket(_ticket(label, 0).ticket_hash) is None
    assert store.get_enrolment_ticket(_ticket("bobs", 0).ticket_hash) is not None
    assert not store.finish_enrolment("acme", record.id)  # no longer pending


def test_finish_enrolment_leaves_a_credential_that_is_not_pending(
    store: CredentialStore,
) -> None:
    record = add_credential(store)
    store.start_enrolment(_ticket("link", record.id))
    assert store.set_credential_state("acme", "alice", "disabled")  # an admin, meanwhile
    assert not store.finish_enrolment("acme", record.id)
    assert _state(store) == "disabled"  # the first code does not re-enable it
    assert store.get_enrolment_ticket(_ticket("link", 0).ticket_hash) is not None


def test_a_version_1_database_is_upgraded(tmp_path: Path) -> None:
    """SQLite: a database written before issue #5 gains the ticket table on open, keeping its
    rows; deleting a credential then cascades to its tickets."""
    path = tmp_path / "old.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        migrate.apply(conn, migrate.load()[:1], split=_split)
        settings = (
            '{"allowed_operations": [], "client_cert_subjects": [], "phenixid_auth": "basic"}'
        )
        conn.execute(
            "INSERT INTO tenant (id, settings, created_at) VALUES ('acme', ?, 0)", (settings,)
        )
    old = SqliteStore(path)  # opening applies 002 and keeps the rows
    try:
        assert old.get_tenant("acme") is not None
        record = add_credential(old)
        versions = [row[0] for row in old._query("SELECT version FROM schema_version")]
        assert versions == [m.version for m in migrate.load()]
        old.insert_enrolment_ticket(_ticket("t", record.id))
        assert old.delete_credential("acme", "alice")
        assert old.get_enrolment_ticket(_ticket("t", record.id).ticket_hash) is None
    finally:
        old.close()
