"""The CredentialStore contract, run over every backend (docs/design.md)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import pytest

from otpd.core.errors import AlreadyExists, NotFound
from otpd.core.model import Algorithm, OtpParams, PhenixAuth, Scope, ThrottleState
from otpd.core.ports import CredentialStore
from tests.support.stores import (
    add_credential,
    key_hash,
    make_client,
    make_record,
    make_tenant,
    make_token,
    never_throttle,
    stored_token,
    unknown_attempts,
)

# --- tenants -----------------------------------------------------------------------------


def test_tenant_round_trip(store: CredentialStore) -> None:
    tenant = make_tenant(
        "acme",
        phenixid_auth=PhenixAuth.CLIENT_CERT,
        allowed_operations=("otp_token_auth", "other"),
        client_cert_subjects=("CN=a", "CN=b,O=x"),
        created_at=1_700_000_000,
    )
    store.create_tenant(tenant)
    assert store.get_tenant("acme") == tenant
    assert store.get_tenant("nope") is None


def test_tenant_duplicate_is_refused(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    with pytest.raises(AlreadyExists):
        store.create_tenant(make_tenant("acme", phenixid_auth=PhenixAuth.NONE))
    assert store.get_tenant("acme") == make_tenant("acme")


def test_update_tenant(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    changed = make_tenant("acme", phenixid_auth=PhenixAuth.NONE, allowed_operations=())
    store.update_tenant(changed)
    assert store.get_tenant("acme") == changed


def test_update_unknown_tenant_is_not_found(store: CredentialStore) -> None:
    with pytest.raises(NotFound):
        store.update_tenant(make_tenant("ghost"))
    assert store.list_tenants() == []


def test_list_tenants_sorted(store: CredentialStore) -> None:
    for tenant_id in ("zeta", "acme", "m-1"):
        store.create_tenant(make_tenant(tenant_id))
    assert [t.id for t in store.list_tenants()] == ["acme", "m-1", "zeta"]


# --- API clients -------------------------------------------------------------------------


def test_client_round_trip_and_lookup(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    client = make_client("acme", "app", frozenset({Scope.READ, Scope.WRITE}), created_at=5)
    store.create_client(client)
    assert store.find_client_by_key_hash(client.key_hash) == client
    assert store.find_client_by_key_hash(key_hash("unknown")) is None
    assert store.list_clients("acme") == [client]


def test_client_with_no_scopes(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    client = make_client("acme", "idle", frozenset())
    store.create_client(client)
    assert store.find_client_by_key_hash(client.key_hash) == client


def test_client_duplicate_name_is_refused(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    store.create_client(make_client("acme", "app"))
    with pytest.raises(AlreadyExists):
        store.create_client(make_client("acme", "app", key_hash=key_hash("other")))
    assert len(store.list_clients("acme")) == 1


def test_client_duplicate_key_hash_is_refused_across_tenants(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    store.create_tenant(make_tenant("beta"))
    store.create_client(make_client("acme", "app", key_hash=key_hash("k")))
    with pytest.raises(AlreadyExists):
        store.create_client(make_client("beta", "other", key_hash=key_hash("k")))
    assert store.list_clients("beta") == []


def test_client_of_unknown_tenant_is_not_found(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    store.create_client(make_client("acme", "app", key_hash=key_hash("k")))
    with pytest.raises(NotFound):
        store.create_client(make_client("ghost", "app"))
    # A missing tenant wins over a clashing key hash: nothing to leak about other tenants.
    with pytest.raises(NotFound):
        store.create_client(make_client("ghost", "x", key_hash=key_hash("k")))


def test_list_clients_sorted_and_scoped_by_tenant(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    store.create_tenant(make_tenant("beta"))
    for name in ("zed", "app", "mid"):
        store.create_client(make_client("acme", name))
    store.create_client(make_client("beta", "app"))
    assert [c.name for c in store.list_clients("acme")] == ["app", "mid", "zed"]
    assert [c.tenant for c in store.list_clients("beta")] == ["beta"]
    assert store.list_clients("ghost") == []


# --- credentials -------------------------------------------------------------------------


def test_allocated_ids_strictly_increase(store: CredentialStore) -> None:
    ids = [store.allocate_credential_id() for _ in range(20)]
    assert ids[0] >= 1
    assert all(a < b for a, b in itertools.pairwise(ids))


def test_credential_round_trip(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    record = make_record(
        store.allocate_credential_id(),
        "acme",
        "bob@example.com",
        params=OtpParams(Algorithm.SHA512, digits=8, period=60, skew=3),
        key_size=64,
        issuer="Acme Corp",
        account_name="bob",
        email="bob@example.com",
        phone="+46700000000",
        sealed_secret=bytes(range(256)),
        last_step=7,
        throttle=ThrottleState(failures=2, not_before=9),
    )
    store.insert_credential(record)
    assert store.get_credential("acme", "bob@example.com") == record
    assert store.get_credential_by_id("acme", record.id) == record
    assert store.get_credential("acme", "BOB@example.com") is None  # names are case-sensitive


def test_insert_credential_into_unknown_tenant_is_not_found(store: CredentialStore) -> None:
    with pytest.raises(NotFound):
        store.insert_credential(make_record(store.allocate_credential_id(), "ghost"))


def test_insert_duplicate_name_is_refused(store: CredentialStore) -> None:
    first = add_credential(store, "acme", "alice")
    with pytest.raises(AlreadyExists):
        store.insert_credential(make_record(store.allocate_credential_id(), "acme", "alice"))
    assert store.list_credentials("acme") == [first]


def test_insert_duplicate_id_is_refused(store: CredentialStore) -> None:
    first = add_credential(store, "acme", "alice")
    with pytest.raises(AlreadyExists):
        store.insert_credential(make_record(first.id, "acme", "bob"))
    assert store.get_credential("acme", "bob") is None


def test_get_by_id_of_another_tenant_is_none(store: CredentialStore) -> None:
    record = add_credential(store, "acme", "alice")
    store.create_tenant(make_tenant("beta"))
    assert store.get_credential_by_id("beta", record.id) is None
    assert store.get_credential_by_id("acme", record.id + 1000) is None


def test_list_and_count(store: CredentialStore) -> None:
    for name in ("carol", "alice", "bob"):
        add_credential(store, "acme", name)
    add_credential(store, "beta", "dave")
    assert [r.name for r in store.list_credentials("acme")] == ["alice", "bob", "carol"]
    assert store.count_credentials("acme") == 3
    assert store.count_credentials("beta") == 1
    assert store.count_credentials("ghost") == 0
    assert store.list_credentials("ghost") == []


def test_delete(store: CredentialStore) -> None:
    record = add_credential(store, "acme", "alice")
    assert store.delete_credential("acme", "alice") is True
    assert store.delete_credential("acme", "alice") is False
    assert store.get_credential("acme", "alice") is None
    assert store.get_credential_by_id("acme", record.id) is None
    assert store.count_credentials("acme") == 0


def test_replace_with_reset_overwrites_and_resets_state(store: CredentialStore) -> None:
    old = add_credential(store, "acme", "alice")
    assert store.advance(old.id, 100)
    store.record_failure(old.id, 0, lambda n: ThrottleState(n, 50))
    new = make_record(
        old.id,
        "acme",
        "alice2",
        params=OtpParams(Algorithm.SHA256, digits=7, period=45, skew=0),
        key_size=32,
        issuer="New",
        email="a@example.com",
        created_at_us=1,  # ignored: the creation time is kept
        sealed_secret=b"new-ciphertext-0123456789",
        last_step=55,  # ignored: replace resets the replay state
        throttle=ThrottleState(3, 4),  # ignored too
    )
    assert store.replace_credential(new, reset_state=True) is True
    expected = replace(
        new,
        created_at_us=old.created_at_us,
        last_step=-1,
        throttle=ThrottleState(),
        version=old.version + 1,
    )
    assert store.get_credential_by_id("acme", old.id) == expected
    assert store.get_credential("acme", "alice") is None
    assert store.get_credential("acme", "alice2") == expected


def test_replace_without_reset_keeps_replay_and_failure_state(store: CredentialStore) -> None:
    old = add_credential(store, "acme", "alice")
    assert store.advance(old.id, 100)
    store.record_failure(old.id, 0, lambda n: ThrottleState(n, 50))
    new = replace(
        old,
        name="alice2",
        issuer="New",
        created_at_us=1,
        sealed_secret=b"new-ciphertext-0123456789",
        last_step=-1,  # ignored without reset: the stored state stays
        throttle=ThrottleState(),
    )
    assert store.replace_credential(new, reset_state=False) is True
    expected = replace(
        new,
        created_at_us=old.created_at_us,
        last_step=100,
        throttle=ThrottleState(1, 50),
        version=old.version + 1,
    )
    assert store.get_credential_by_id("acme", old.id) == expected
    assert store.advance(old.id, 100) is False  # the consumed step is still consumed


def test_replace_missing_or_foreign_row_is_false(store: CredentialStore) -> None:
    record = add_credential(store, "acme", "alice")
    store.create_tenant(make_tenant("beta"))
    for reset in (True, False):
        missing = make_record(record.id + 1000, "acme", "x")
        assert store.replace_credential(missing, reset_state=reset) is False
        assert store.replace_credential(replace(record, tenant="beta"), reset_state=reset) is False
    assert store.get_credential("acme", "alice") == record
    assert store.get_credential("beta", "alice") is None


def test_replace_onto_another_name_is_refused(store: CredentialStore) -> None:
    alice = add_credential(store, "acme", "alice")
    bob = add_credential(store, "acme", "bob")
    for reset in (True, False):
        with pytest.raises(AlreadyExists):
            store.replace_credential(replace(alice, name="bob"), reset_state=reset)
    assert store.get_credential("acme", "alice") == alice
    assert store.get_credential("acme", "bob") == bob
    assert store.replace_credential(replace(alice, issuer="Same name"), reset_state=False)


# --- advance: consume a step (docs/requirements.md#single-use)
# -----------------------------------------------------


def test_advance_first_wins_and_equal_or_lower_is_refused(store: CredentialStore) -> None:
    record = add_credential(store)
    assert store.advance(record.id, 10) is True
    assert store.advance(record.id, 10) is False
    assert store.advance(record.id, 9) is False
    assert store.advance(record.id, 11) is True
    current = store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.last_step == 11


def test_advance_from_fresh_accepts_step_zero(store: CredentialStore) -> None:
    record = add_credential(store)
    assert store.advance(record.id, 0) is True
    assert store.advance(record.id, 0) is False


def test_stored_step_never_decreases(store: CredentialStore) -> None:
    record = add_credential(store)
    highest = -1
    for step in [5, 3, 9, 9, 1, 12, 11, 12, 13]:
        assert store.advance(record.id, step) is (step > highest)
        highest = max(highest, step)
        current = store.get_credential_by_id("acme", record.id)
        assert current is not None
        assert current.last_step == highest


def test_advance_unknown_credential_is_false(store: CredentialStore) -> None:
    assert store.advance(424242, 1) is False


def test_advance_resets_failures(store: CredentialStore) -> None:
    record = add_credential(store)
    for _ in range(3):
        store.record_failure(record.id, 0, never_throttle)
    assert store.advance(record.id, 1) is True
    current = store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.throttle == ThrottleState()


def test_refused_advance_keeps_failures(store: CredentialStore) -> None:
    record = add_credential(store)
    assert store.advance(record.id, 5)
    store.record_failure(record.id, 0, never_throttle)
    assert store.advance(record.id, 5) is False
    current = store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.throttle.failures == 1


# --- record_failure (docs/requirements.md#throttling)
# --------------------------------------------------------------


def test_record_failure_counts_and_returns_the_policy_state(store: CredentialStore) -> None:
    record = add_credential(store)
    seen: list[int] = []

    def policy(failures: int) -> ThrottleState:
        seen.append(failures)
        return ThrottleState(failures=failures, not_before=0 if failures < 3 else 1000)

    assert store.record_failure(record.id, 10, policy) == ThrottleState(1, 0)
    assert store.record_failure(record.id, 10, policy) == ThrottleState(2, 0)
    assert store.record_failure(record.id, 10, policy) == ThrottleState(3, 1000)
    assert seen == [1, 2, 3]
    current = store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.throttle == ThrottleState(3, 1000)


def test_record_failure_while_throttled_changes_nothing(store: CredentialStore) -> None:
    record = add_credential(store)
    store.record_failure(record.id, 0, lambda n: ThrottleState(n, 100))

    def must_not_run(failures: int) -> ThrottleState:
        raise AssertionError("policy consulted while throttled")

    assert store.record_failure(record.id, 99, must_not_run) is None
    current = store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.throttle == ThrottleState(1, 100)
    # At not_before the wait is over.
    assert store.record_failure(record.id, 100, never_throttle) == ThrottleState(2, 0)


def test_record_failure_stores_what_the_policy_says(store: CredentialStore) -> None:
    record = add_credential(store)
    store.record_failure(record.id, 0, lambda n: ThrottleState(n + 10, 7))
    current = store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.throttle == ThrottleState(11, 7)


def test_record_failure_unknown_credential_is_none(store: CredentialStore) -> None:
    assert store.record_failure(424242, 0, never_throttle) is None


def test_success_after_failures_resets_count(store: CredentialStore) -> None:
    record = add_credential(store)
    store.record_failure(record.id, 0, never_throttle)
    store.record_failure(record.id, 0, never_throttle)
    assert store.advance(record.id, 3)
    assert store.record_failure(record.id, 0, never_throttle) == ThrottleState(1, 0)


def test_policy_error_leaves_state_unchanged(store: CredentialStore) -> None:
    record = add_credential(store)
    store.record_failure(record.id, 0, never_throttle)

    def broken(failures: int) -> ThrottleState:
        raise RuntimeError("policy bug")

    with pytest.raises(RuntimeError):
        store.record_failure(record.id, 0, broken)
    current = store.get_credential_by_id("acme", record.id)
    assert current is not None
    assert current.throttle.failures == 1


# --- bearer tokens ------------------------------------------------------------------------


def test_token_round_trip(store: CredentialStore) -> None:
    token = make_token("t1")
    store.insert_token(token)
    assert stored_token(store, token.token_hash) == token
    assert stored_token(store, key_hash("unknown")) is None


def test_token_duplicate_hash_is_refused(store: CredentialStore) -> None:
    store.insert_token(make_token("t1"))
    with pytest.raises(AlreadyExists):
        store.insert_token(make_token("t1", accessor="other"))
    assert stored_token(store, key_hash("t1")) == make_token("t1")


def test_renew_token_only_before_expiry(store: CredentialStore) -> None:
    store.insert_token(make_token("t1", expires_at_us=2_000))
    assert store.renew_token(key_hash("t1"), 1_500, 5_000) is True
    assert stored_token(store, key_hash("t1")) == make_token(
        "t1", renewed_at_us=1_500, expires_at_us=5_000
    )
    assert store.renew_token(key_hash("t1"), 5_000, 9_000) is False  # expired at 5_000
    assert stored_token(store, key_hash("t1")) == make_token(
        "t1", renewed_at_us=1_500, expires_at_us=5_000
    )
    assert store.renew_token(key_hash("unknown"), 0, 9_000) is False


def test_delete_expired_tokens(store: CredentialStore) -> None:
    for label, expiry in (("a", 100), ("b", 200), ("c", 300)):
        store.insert_token(make_token(label, expires_at_us=expiry))
    assert store.delete_expired_tokens(200) == 2
    assert stored_token(store, key_hash("a")) is None
    assert stored_token(store, key_hash("b")) is None
    assert stored_token(store, key_hash("c")) == make_token("c", expires_at_us=300)
    assert store.delete_expired_tokens(200) == 0


# --- meta --------------------------------------------------------------------------------


def test_meta_put_if_absent(store: CredentialStore) -> None:
    assert store.get_meta("keyring") is None
    assert store.put_meta_if_absent("keyring", "first") is True
    assert store.put_meta_if_absent("keyring", "second") is False
    assert store.get_meta("keyring") == "first"
    assert store.put_meta_if_absent("other", "") is True
    assert store.get_meta("other") == ""


# --- tenants are independent (docs/requirements.md#tenancy)
# --------------------------------------------------------


def test_same_name_in_two_tenants_is_independent(store: CredentialStore) -> None:
    a = add_credential(store, "acme", "alice")
    b = add_credential(store, "beta", "alice")
    assert a.id != b.id
    assert store.advance(a.id, 10)
    assert store.advance(b.id, 10)  # a's consumed step does not touch b
    store.record_failure(a.id, 0, lambda n: ThrottleState(n, 500))
    assert store.record_failure(b.id, 0, never_throttle) == ThrottleState(1, 0)
    assert store.delete_credential("acme", "alice")
    b_now = store.get_credential("beta", "alice")
    assert b_now is not None
    assert b_now.last_step == 10
    assert store.get_credential("acme", "alice") is None


# --- attempts on unknown names (docs/requirements.md#throttling, docs/requirements.md#equal-work)
# --------------------------------------------------


def test_unknown_attempts_count_per_tenant_and_touch_no_credential(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    store.create_tenant(make_tenant("other"))
    record = add_credential(store, "acme", "alice")
    for _ in range(3):
        store.record_unknown_attempt("acme")
    store.record_unknown_attempt("other")
    store.record_unknown_attempt("nobody")  # a tenant that does not exist: nothing to count
    assert unknown_attempts(store, "acme") == 3
    assert unknown_attempts(store, "other") == 1
    assert unknown_attempts(store, "nobody") == 0
    after = store.get_credential("acme", "alice")
    assert after is not None and after.throttle == record.throttle
    assert after.last_step == record.last_step


# --- row versions: compare-and-set for conditional writes (issue #4, If-Match) -----------


def test_replace_bumps_the_version_and_honours_expect_version(store: CredentialStore) -> None:
    record = add_credential(store, "acme", "alice")
    assert record.version == 1
    assert store.replace_credential(
        replace(record, issuer="a"), reset_state=False, expect_version=1
    )
    assert store.get_credential("acme", "alice").version == 2  # type: ignore[union-attr]
    # a writer still holding version 1 loses, and nothing changes
    assert not store.replace_credential(
        replace(record, issuer="b"), reset_state=False, expect_version=1
    )
    current = store.get_credential("acme", "alice")
    assert current is not None and current.issuer == "a" and current.version == 2
    # unconditional writes still work and bump
    assert store.replace_credential(replace(record, issuer="c"), reset_state=True)
    assert store.get_credential("acme", "alice").version == 3  # type: ignore[union-attr]


def test_verification_state_does_not_bump_the_version(store: CredentialStore) -> None:
    record = add_credential(store, "acme", "alice")
    assert store.advance(record.id, 10)
    store.record_failure(record.id, 0, never_throttle)
    assert store.get_credential("acme", "alice").version == 1  # type: ignore[union-attr]


def test_delete_honours_expect_version(store: CredentialStore) -> None:
    record = add_credential(store, "acme", "alice")
    store.replace_credential(replace(record, issuer="a"), reset_state=False)
    assert not store.delete_credential("acme", "alice", expect_version=1)
    assert store.get_credential("acme", "alice") is not None
    assert store.delete_credential("acme", "alice", expect_version=2)
    assert store.get_credential("acme", "alice") is None


def test_get_client_by_tenant_and_name(store: CredentialStore) -> None:
    store.create_tenant(make_tenant("acme"))
    store.create_tenant(make_tenant("other"))
    client = make_client("acme", "web")
    store.create_client(client)
    assert store.get_client("acme", "web") == client
    assert store.get_client("other", "web") is None
    assert store.get_client("acme", "nope") is None
