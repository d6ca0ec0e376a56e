"""The services' events (issue #13): true outcomes and step offsets reach the listener, a
refused action is reported with its kind, and a tenant's issuer names its QR labels."""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import unquote

import pytest

from otpd.bootstrap import Services, compose_services
from otpd.core.audit import AuditEvent
from otpd.core.errors import Forbidden
from otpd.core.model import CredentialSpec, Scope, SecretBytes
from otpd.store.memory import MemoryStore
from tests.support.fakes import FakeClock, FakeSealer, principal, ref_totp

SECRET = bytes(range(20))


class Recorder:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def emit(self, event: AuditEvent) -> None:
        self.events.append(event)


def _service() -> tuple[Services, Recorder, FakeClock]:
    recorder, clock = Recorder(), FakeClock()
    services = compose_services(
        MemoryStore(), FakeSealer(), clock, events=recorder, label_prefix="Sbox"
    )
    services.access.create_tenant("acme")
    return services, recorder, clock


def test_verification_outcomes_and_offsets() -> None:
    services, recorder, clock = _service()
    admin = principal(services, "acme")
    services.credentials.create_credential(admin, CredentialSpec(name="alice"), SecretBytes(SECRET))
    earlier = ref_totp(SECRET, clock.seconds - 30)  # the step before now: offset -1
    services.credentials.verify(admin, "alice", earlier)
    services.credentials.verify(admin, "alice", earlier)
    services.credentials.verify(admin, "bob", "123456")
    verifies = [e for e in recorder.events if e.action == "verify"]
    assert [(e.outcome, e.offset, e.target) for e in verifies] == [
        ("accepted", -1, "alice"),
        ("replayed", None, "alice"),
        ("unknown", None, "-"),  # the name asked for is not recorded
    ]
    assert all(e.caller == admin.client and e.tenant == "acme" for e in verifies)
    assert not any(earlier in str(e) for e in recorder.events)


def test_a_refused_action_is_reported_with_its_kind() -> None:
    services, recorder, _ = _service()
    reader = principal(services, "acme", frozenset({Scope.READ}))
    with pytest.raises(Forbidden):
        services.credentials.create_credential(reader, CredentialSpec(name="alice"))
    assert recorder.events[-1].action == "credential.create"
    assert recorder.events[-1].outcome == "forbidden"


def test_a_tenant_issuer_names_the_qr_label() -> None:
    services, _, _ = _service()
    admin = principal(services, "acme")
    services.credentials.create_credential(admin, CredentialSpec(name="alice"), SecretBytes(SECRET))
    assert unquote(services.credentials.key_uri(admin, "alice")).startswith("otpauth://totp/Sbox:")
    services.access.update_tenant(replace(services.access.get_tenant("acme"), issuer="Acme Corp"))
    uri = unquote(services.credentials.key_uri(admin, "alice"))
    assert uri.startswith("otpauth://totp/Acme Corp:") and "issuer=Acme Corp" in uri


def test_clock_watch_sees_a_step_back_and_drift() -> None:
    from otpd.core.trail import ClockWatch

    wall, mono = [1000.0], [5.0]
    watch = ClockWatch(lambda: wall[0], lambda: mono[0], min_samples=4, window=4)
    assert watch.problem() is None
    for _ in range(4):
        watch.emit(AuditEvent("verify", "accepted", offset=0))
    assert watch.problem() is None
    for _ in range(4):
        watch.emit(AuditEvent("verify", "accepted", offset=-1))
    assert "drift" in (watch.problem() or "")
    for _ in range(3):
        watch.emit(AuditEvent("verify", "accepted", offset=0))
    assert watch.problem() is None  # the mean of the last four is back within half a step
    wall[0] -= 5  # the wall clock went back five seconds; the monotonic one did not
    assert "backwards" in (watch.problem() or "")
