"""Contract tests of issue #9 over every backend: refusals, the guess budget's reset, the
clock-safe throttle test inside the compare-and-sets, and a period change that rescales the
replay state (docs/security.md)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from otpd.core.model import OtpParams, ThrottleState
from otpd.core.policy import LOCKED_FOREVER, rescale_step
from otpd.core.ports import CredentialStore
from tests.support.stores import add_credential, never_throttle

NOW = 1_700_000_000


def test_record_refusal_counts_and_changes_no_rule_state(store: CredentialStore) -> None:
    record = add_credential(store)
    store.record_failure(record.id, NOW, lambda n: ThrottleState(n, NOW + 60, NOW))
    before = store.get_credential_by_id("acme", record.id)
    assert before is not None
    for _ in range(3):
        store.record_refusal(record.id)
    after = store.get_credential_by_id("acme", record.id)
    assert after == replace(before, refused=3)


def test_record_failure_while_throttled_counts_a_refusal(store: CredentialStore) -> None:
    record = add_credential(store)
    store.record_failure(record.id, NOW, lambda n: ThrottleState(n, NOW + 60, NOW))
    assert store.record_failure(record.id, NOW + 1, never_throttle) is None
    stored = store.get_credential_by_id("acme", record.id)
    assert stored is not None
    assert (stored.throttle, stored.refused) == (ThrottleState(1, NOW + 60, NOW), 1)


def test_reset_failures_clears_the_lock_but_never_the_replay_state(
    store: CredentialStore,
) -> None:
    record = add_credential(store)
    assert store.advance(record.id, 500)
    store.record_failure(record.id, NOW, lambda n: ThrottleState(n, LOCKED_FOREVER, 0))
    assert store.advance(record.id, 600, now=NOW + 10**8) is False  # locked
    assert store.reset_failures("acme", "alice") is True
    stored = store.get_credential_by_id("acme", record.id)
    assert stored is not None
    assert (stored.throttle, stored.last_step) == (ThrottleState(), 500)
    assert store.advance(record.id, 500, now=NOW) is False
    assert store.advance(record.id, 600, now=NOW) is True


def test_reset_failures_of_a_missing_name_is_false(store: CredentialStore) -> None:
    add_credential(store)
    assert store.reset_failures("acme", "nobody") is False
    assert store.reset_failures("beta", "alice") is False


@pytest.mark.parametrize("method", ["advance", "record_failure"])
def test_a_clock_behind_the_backoff_lifts_it_a_lock_stays(
    store: CredentialStore, method: str
) -> None:
    """core.policy.is_throttled inside the compare-and-sets: a backoff set at NOW does not
    hold at NOW - 1 (the clock went back); a lock (since 0) holds at any time."""
    backoff = add_credential(store, name="backoff")
    locked = add_credential(store, name="locked")
    store.record_failure(backoff.id, NOW, lambda n: ThrottleState(n, NOW + 900, NOW))
    store.record_failure(locked.id, NOW, lambda n: ThrottleState(n, NOW + 900, 0))

    def attempt(credential_id: int, now: int) -> bool:
        if method == "advance":
            return store.advance(credential_id, now // 30, now=now)
        return store.record_failure(credential_id, now, never_throttle) is not None

    assert attempt(backoff.id, NOW + 10) is False
    assert attempt(backoff.id, NOW - 3600) is True
    assert attempt(locked.id, NOW - 3600) is False
    assert attempt(locked.id, NOW + 900) is True


@pytest.mark.parametrize(("old", "new"), [(30, 60), (60, 30), (30, 7), (30, 30), (1, 86400)])
def test_replace_rescales_the_replay_state_to_the_new_period(
    store: CredentialStore, old: int, new: int
) -> None:
    record = add_credential(store, params=OtpParams(period=old))
    step = NOW // old
    assert store.advance(record.id, step)
    store.record_failure(record.id, NOW, lambda n: ThrottleState(n, NOW + 5, NOW))
    changed = replace(record, params=OtpParams(period=new))
    assert store.replace_credential(changed, reset_state=False) is True
    stored = store.get_credential_by_id("acme", record.id)
    assert stored is not None
    assert stored.last_step == rescale_step(step, old, new) == ((step + 1) * old - 1) // new
    assert stored.throttle == ThrottleState(1, NOW + 5, NOW)


def test_replace_of_a_fresh_credential_keeps_minus_one(store: CredentialStore) -> None:
    record = add_credential(store, params=OtpParams(period=30))
    assert store.replace_credential(replace(record, params=OtpParams(period=60)), reset_state=False)
    stored = store.get_credential_by_id("acme", record.id)
    assert stored is not None and stored.last_step == -1
