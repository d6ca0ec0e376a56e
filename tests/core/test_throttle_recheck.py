"""The throttle is checked again where a code is consumed, not only on the credential as it
was read: parallel wrong guesses landing between one request's read and its write must still
stop a right code from being accepted while the credential is throttled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from otpd.bootstrap import compose_services
from otpd.core.model import CredentialRecord, CredentialSpec, Outcome, Principal, SecretBytes
from otpd.store.memory import MemoryStore
from otpd.store.sqlite import SqliteStore
from tests.support.fakes import ALL_SCOPES, FakeClock, FakeSealer, ref_totp

SECRET = bytes(range(1, 21))


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
    services = compose_services(store, FakeSealer(), clock, label_prefix="Sbox")
    _, key = services.access.create_client("acme", "c1", ALL_SCOPES)
    admin: Principal = services.access.authenticate(key)
    services.credentials.create_credential(admin, CredentialSpec(name="bob"), SecretBytes(SECRET))
    right = ref_totp(SECRET, clock.seconds)
    wrong = f"{(int(right) + 1) % 10**6:06d}"

    def parallel_wrong_guesses() -> None:
        for _ in range(6):
            services.credentials.verify(admin, "bob", wrong)

    store.during_read = parallel_wrong_guesses
    result = services.credentials.verify(admin, "bob", right)
    assert result.outcome is Outcome.THROTTLED
    record = store.get_credential("acme", "bob")
    assert record is not None and record.last_step == -1
    assert record.throttle.not_before > clock.seconds
    store.close()
