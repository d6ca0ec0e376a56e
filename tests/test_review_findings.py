"""Regression tests for the security review's findings (one test per finding)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from otpd.api.strongbox.parse import Body, apply_patch
from otpd.core.errors import InvalidInput, NotFound
from otpd.core.model import CredentialRecord, CredentialSpec, Outcome, Principal, SecretBytes
from otpd.core.service import CredentialService
from otpd.store.memory import MemoryStore
from otpd.store.sqlite import SqliteStore
from tests.core.conftest import ALL_SCOPES, FakeClock, FakeSealer, ref_totp

SECRET = bytes(range(1, 21))


# --- 1. throttle bypass: parallel guesses that read the credential before the throttle ----


class _RacingMemoryStore(MemoryStore):
    """Runs `during_read` right after a credential is read: what concurrent requests do
    between this request's read and its write."""

    during_read: Callable[[], None] | None = None

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None:
        record = super().get_credential(tenant_id, name)
        hook, self.during_read = self.during_read, None
        if hook is not None:
            hook()
        return record


class _RacingSqliteStore(SqliteStore):
    during_read: Callable[[], None] | None = None

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None:
        record = super().get_credential(tenant_id, name)
        hook, self.during_read = self.during_read, None
        if hook is not None:
            hook()
        return record


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_right_code_read_before_throttle_is_not_accepted_after_it(
    kind: str, tmp_path: Path
) -> None:
    """An attacker sends many guesses at once: every request reads the credential before any
    failure is written, so the throttle check on that snapshot passes for all of them. The
    consume step must itself refuse while throttled, else the throttle bounds nothing."""
    store: _RacingMemoryStore | _RacingSqliteStore = (
        _RacingMemoryStore() if kind == "memory" else _RacingSqliteStore(tmp_path / "otpd.db")
    )
    clock = FakeClock()
    service = CredentialService(store, FakeSealer(), clock)
    _, key = service.create_client("acme", "c1", ALL_SCOPES)
    admin: Principal = service.authenticate(key)
    service.create_credential(admin, CredentialSpec(name="bob"), SecretBytes(SECRET))
    right = ref_totp(SECRET, clock.seconds)
    wrong = f"{(int(right) + 1) % 10**6:06d}"

    def parallel_wrong_guesses() -> None:
        for _ in range(6):
            service.verify(admin, "bob", wrong)

    store.during_read = parallel_wrong_guesses
    result = service.verify(admin, "bob", right)
    assert result.outcome is Outcome.THROTTLED
    record = store.get_credential("acme", "bob")
    assert record is not None and record.last_step == -1
    assert record.throttle.not_before > clock.seconds
    store.close()


# --- 2. Strongbox JSON Patch: a few hundred bytes of `copy` ops doubling the document ------


def test_json_patch_cannot_grow_the_document_exponentially() -> None:
    """Each `copy` of a list into itself doubles it: 40 ops (~2 KB, under the body cap) would
    need 2**40 objects. A TOTP object is flat, so a patch that nests anything is refused
    before the next operation runs."""
    ops = [{"op": "add", "path": "/a", "value": []}]
    ops += [{"op": "copy", "from": "/a", "path": "/a/-"}] * 40
    started = time.monotonic()
    with pytest.raises(InvalidInput):
        apply_patch({"name": "bob"}, Body(ops, json_patch=True))
    assert time.monotonic() - started < 2


# --- 3. a Token2 enrolment ticket must not show a secret set after it was issued ----------


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_enrolment_ticket_dies_when_the_secret_is_replaced(kind: str, tmp_path: Path) -> None:
    """An enrolment link that leaked is the classic reason to rotate a secret. The old
    ticket served the QR code of the credential as it is now, so for the rest of its 15
    minutes it handed out the new secret too."""
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "otpd.db")
    service = CredentialService(store, FakeSealer(), FakeClock())
    _, key = service.create_client("acme", "c1", ALL_SCOPES)
    admin = service.authenticate(key)
    enrolled = service.enrol_user(admin, email="ann@example.com", phone="+46701234567")
    assert "secret=" in service.enrolment_uri(enrolled.ticket)
    spec = CredentialSpec(name=enrolled.record.name, account_name="ann")
    service.replace_credential(admin, spec, SecretBytes(SECRET))
    with pytest.raises(NotFound):
        service.enrolment_uri(enrolled.ticket)
    store.close()
