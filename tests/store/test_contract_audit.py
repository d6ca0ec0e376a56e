"""The audit part of the store contract (issue #13), over memory, SQLite and PostgreSQL:
appends form one hash chain, a removed, edited or truncated entry is found, concurrent
appends stay linear, retention keeps the newest entry, and a tenant keeps its issuer."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from otpd.core.audit import GENESIS, AuditEntry, AuditQuery, find_break
from otpd.core.model import Tenant, ThrottleState
from otpd.core.ports import AuditStore, CredentialStore
from otpd.store.memory import MemoryStore
from tests.support.stores import add_credential, append_audit, never_throttle


def _entry(i: int, tenant: str = "acme", outcome: str = "accepted") -> AuditEntry:
    return AuditEntry(
        time_us=1_000 + i,
        tenant=tenant,
        caller="app",
        source="192.0.2.1",
        request_id=f"r{i}",
        action="verify",
        target=f"user{i}",
        outcome=outcome,
    )


def _audit(store: CredentialStore) -> AuditStore:
    audit: Any = store  # every backend implements both protocols
    return audit


def _check(audit: AuditStore) -> str | None:
    return find_break(audit.list_audit(AuditQuery()), audit.audit_head())


def test_appends_link_into_one_chain(store: CredentialStore) -> None:
    audit = _audit(store)
    assert audit.audit_head() is None
    first = append_audit(audit, _entry(1))
    second = append_audit(audit, _entry(2))
    assert (first.seq, first.prev_hash) == (1, GENESIS)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    assert audit.audit_head() == (2, second.hash)
    assert audit.list_audit(AuditQuery()) == [first, second]
    assert _check(audit) is None


def test_filters(store: CredentialStore) -> None:
    audit = _audit(store)
    append_audit(audit, _entry(1, tenant="acme", outcome="wrong"))
    append_audit(audit, _entry(2, tenant="other"))
    append_audit(audit, _entry(3, tenant="acme"))
    assert [e.seq for e in audit.list_audit(AuditQuery(tenant="acme"))] == [1, 3]
    assert [e.seq for e in audit.list_audit(AuditQuery(outcome="wrong"))] == [1]
    assert [e.seq for e in audit.list_audit(AuditQuery(since_us=1_002))] == [2, 3]
    assert [e.seq for e in audit.list_audit(AuditQuery(action="seal"))] == []
    assert [e.seq for e in audit.list_audit(AuditQuery(limit=2))] == [1, 2]


def test_console_filters_and_keyset_paging_newest_first(store: CredentialStore) -> None:
    audit = _audit(store)
    for i in range(1, 7):
        append_audit(audit, _entry(i, tenant="acme"))
    append_audit(audit, replace(_entry(7), target="user2"))

    def seqs(**kw: Any) -> list[int]:
        return [e.seq for e in audit.list_audit(AuditQuery(**kw))]

    assert seqs(target="user2") == [2, 7]
    assert seqs(until_us=1_003) == [1, 2]
    assert seqs(since_us=1_002, until_us=1_005) == [2, 3, 4]
    assert seqs(newest_first=True, limit=3) == [7, 6, 5]
    assert seqs(newest_first=True, limit=3, before_seq=5) == [4, 3, 2]
    assert seqs(newest_first=True, limit=3, before_seq=2) == [1]
    assert seqs(newest_first=True, target="user2", before_seq=7) == [2]


def test_a_removed_edited_or_truncated_entry_is_found() -> None:
    store = MemoryStore()
    entries = [append_audit(store, _entry(i)) for i in range(1, 5)]
    head = (4, entries[-1].hash)
    assert find_break(entries, head) is None
    assert find_break([*entries[:1], *entries[2:]], head) == "entry 2 is missing"
    edited = [*entries[:2], replace(entries[2], outcome="accepted!"), entries[3]]
    assert find_break(edited, head) == "entry 3 was altered"
    assert find_break(entries[:3], head) is not None  # the newest removed
    assert find_break(entries[1:], head) is None  # the oldest pruned (retention)


def test_concurrent_appends_stay_linear(store: CredentialStore) -> None:
    audit = _audit(store)

    def write(base: int) -> None:
        for i in range(15):
            append_audit(audit, _entry(base + i))

    threads = [threading.Thread(target=write, args=(n * 100,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = audit.list_audit(AuditQuery())
    assert [e.seq for e in entries] == list(range(1, 61))
    assert _check(audit) is None


def test_retention_keeps_the_newest(store: CredentialStore) -> None:
    audit = _audit(store)
    for i in range(1, 4):
        append_audit(audit, _entry(i))
    assert audit.prune_audit(1_003) == 2
    assert [e.seq for e in audit.list_audit(AuditQuery())] == [3]
    assert audit.prune_audit(10_000) == 0  # never the newest: the chain keeps its end
    assert _check(audit) is None


def test_tenant_issuer_round_trip(store: CredentialStore) -> None:
    store.create_tenant(Tenant(id="acme", issuer="Acme Corp"))
    store.create_tenant(Tenant(id="plain"))
    acme, plain = store.get_tenant("acme"), store.get_tenant("plain")
    assert acme is not None and acme.issuer == "Acme Corp"
    assert plain is not None and plain.issuer is None
    store.update_tenant(replace(acme, issuer=None))
    updated = store.get_tenant("acme")
    assert updated is not None and updated.issuer is None


def test_count_throttled_by_tenant(store: CredentialStore) -> None:
    """The metrics' gauge of credentials throttled or locked now (core.policy.is_throttled:
    since <= now < not_before); tenants with none are absent."""
    acme = [add_credential(store, name=n) for n in ("backoff", "lock", "done", "plain", "skew")]
    globex = add_credential(store, tenant="globex", name="g")
    store.record_failure(acme[0].id, 100, lambda n: ThrottleState(n, 200, since=100))
    store.record_failure(acme[1].id, 100, lambda n: ThrottleState(n, 2**62, since=0))  # a lock
    store.record_failure(acme[2].id, 100, lambda n: ThrottleState(n, 150, since=100))
    store.record_failure(acme[3].id, 100, never_throttle)
    store.record_failure(acme[4].id, 100, lambda n: ThrottleState(n, 300, since=190))
    store.record_failure(globex.id, 100, lambda n: ThrottleState(n, 500, since=100))
    counter: Any = store
    assert counter.count_throttled(160) == {"acme": 2, "globex": 1}
    assert counter.count_throttled(195) == {"acme": 3, "globex": 1}  # "skew" set at 190
    assert counter.count_throttled(1_000) == {"acme": 1}  # only the lock is left
