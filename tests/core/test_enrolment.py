"""Token2 enrolment in the service (issue #5) with a fake clock: names, phone and e-mail rules,
the ticket's lifetime to the microsecond, what is stored of it, and who may use it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from otpd.bootstrap import Services, compose_services
from otpd.core import enrolment
from otpd.core.enrolment import TICKET_LIFETIME_S, hash_ticket
from otpd.core.errors import AlreadyExists, Forbidden, InvalidInput, NotFound, Sealed
from otpd.core.model import Algorithm, CredentialSpec, Principal, Scope, SecretBytes
from otpd.core.provisioning import parse_uri
from otpd.store.memory import MemoryStore
from otpd.store.sqlite import SqliteStore
from tests.support.fakes import ALL_SCOPES, FakeClock, FakeSealer, principal


def test_enrol_user_makes_a_token2_credential(
    services: Services, admin: Principal, store: MemoryStore, clock: FakeClock
) -> None:
    enrolled = services.enrolment.enrol_user(
        admin, email="ann@example.com", phone="41 79 123 45 67"
    )
    record = enrolled.record
    assert record.name == "ann@example.com" and record.account_name == "ann@example.com"
    assert record.issuer == "acme" and record.email == "ann@example.com"
    assert record.phone == "+41791234567"  # one stored spelling
    assert (record.params.algorithm, record.params.digits, record.params.period) == (
        Algorithm.SHA1,
        6,
        30,
    )
    assert len(enrolled.secret) == 20 and record.key_size == 20
    assert record.created_at_us == clock.us
    assert store.get_credential_by_id("acme", record.id) == record
    uri = parse_uri(services.enrolment.enrolment_uri(enrolled.ticket))
    assert uri.secret == enrolled.secret and uri.account_name == "ann@example.com"


def test_the_ticket_lives_fifteen_minutes(
    services: Services, admin: Principal, clock: FakeClock
) -> None:
    enrolled = services.enrolment.enrol_user(admin, email=None, phone="123456")
    start = clock.us
    clock.us = start + TICKET_LIFETIME_S * 1_000_000 - 1
    assert services.enrolment.enrolment_uri(enrolled.ticket).startswith("otpauth://totp/")
    clock.us = start + TICKET_LIFETIME_S * 1_000_000
    with pytest.raises(NotFound):
        services.enrolment.enrolment_uri(enrolled.ticket)
    assert TICKET_LIFETIME_S == 900


def test_only_the_tickets_hash_is_stored(
    services: Services, admin: Principal, store: MemoryStore
) -> None:
    enrolled = services.enrolment.enrol_user(admin, email=None, phone="123456")
    ticket = enrolled.ticket
    assert len(base64.urlsafe_b64decode(ticket + "=")) * 8 >= 128
    stored = store.get_enrolment_ticket(hash_ticket(ticket))
    assert stored is not None and stored.credential_id == enrolled.record.id
    assert store.get_enrolment_ticket(ticket) is None
    assert ticket not in repr(store._tickets)


def test_tickets_are_unique_and_anything_else_is_not_found(
    services: Services, admin: Principal
) -> None:
    tickets = {
        services.enrolment.enrol_user(admin, email=None, phone="123456").ticket for _ in range(20)
    }
    assert len(tickets) == 20
    one = next(iter(tickets))
    for wrong in ("", "x", one[:-1], one + "A", one.upper() if one != one.upper() else "a" * 43,
                  "A" * 43, None, 5, "../" + one[3:]):  # fmt: skip
        with pytest.raises(NotFound):
            services.enrolment.enrolment_uri(wrong)  # type: ignore[arg-type]


def test_deleted_credential_ticket_is_not_found(services: Services, admin: Principal) -> None:
    enrolled = services.enrolment.enrol_user(admin, email=None, phone="123456")
    services.credentials.delete_credential(admin, enrolled.record.name)
    with pytest.raises(NotFound):
        services.enrolment.enrolment_uri(enrolled.ticket)


def test_names(services: Services, admin: Principal) -> None:
    first = services.enrolment.enrol_user(admin, email="bo@example.com", phone="123456").record
    again = services.enrolment.enrol_user(admin, email="bo@example.com", phone="123456").record
    odd = services.enrolment.enrol_user(admin, email="bö@example.com", phone="123456").record
    none = services.enrolment.enrol_user(admin, email=None, phone="123456").record
    assert first.name == "bo@example.com"
    assert again.name == f"user{again.id}"
    assert odd.name == f"user{odd.id}" and odd.email == "bö@example.com"
    assert none.name == f"user{none.id}"
    # a Strongbox client took user<next id>: the next candidate is used
    next_id = none.id + 2  # create_credential below allocates none.id + 1
    services.credentials.create_credential(admin, CredentialSpec(name=f"user{next_id}"))
    taken = services.enrolment.enrol_user(admin, email=None, phone="123456").record
    assert taken.id == next_id and taken.name == f"user{next_id}-2"


def test_no_free_name_is_already_exists(services: Services, admin: Principal) -> None:
    next_id = services.enrolment.enrol_user(admin, email=None, phone="123456").record.id + 1
    count = len(list(enrolment.candidate_names(None, 0)))
    # the creates below allocate next_id .. next_id + count - 1; the enrolment gets the next
    for name in enrolment.candidate_names(None, next_id + count):
        services.credentials.create_credential(admin, CredentialSpec(name=name))
    with pytest.raises(AlreadyExists):
        services.enrolment.enrol_user(admin, email=None, phone="123456")


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("41791234567", "+41791234567"),
        ("+41791234567", "+41791234567"),
        ("+1 (555) 010-9999", "+15550109999"),
        ("1.555.010.9999", "+15550109999"),
        ("123456", "+123456"),
        ("1" * 15, "+" + "1" * 15),
    ],
)
def test_phone_normalisation(phone: str, stored: str) -> None:
    assert enrolment.normalise_phone(phone) == stored


@pytest.mark.parametrize(
    "phone",
    ["", "12345", "1" * 16, "++123456", "123456+", "12a456", "\u0661" * 8, "123 456\n", None, 7,
     "1" * 100],
)  # fmt: skip
def test_bad_phones(phone: object) -> None:
    with pytest.raises(InvalidInput) as info:
        enrolment.normalise_phone(phone)
    assert info.value.field == "phone"


@pytest.mark.parametrize(
    "email",
    ["", "plain", "@example.com", "a@", "a b@example.com", "a@b@c", "a\x00@b", "a\u0085@b",
     "x" * 250 + "@b.cd", "a\ud800@b", None],
)  # fmt: skip
def test_bad_emails(email: object) -> None:
    with pytest.raises(InvalidInput) as info:
        enrolment.validate_email(email)
    assert info.value.field == "email"


def test_bad_input_creates_nothing(services: Services, admin: Principal) -> None:
    with pytest.raises(InvalidInput):
        services.enrolment.enrol_user(admin, email="nope", phone="123456")
    with pytest.raises(InvalidInput):
        services.enrolment.enrol_user(admin, email=None, phone="12")
    assert services.credentials.list_credentials(admin) == []


def test_scope_tenant_and_seal(services: Services, sealer: FakeSealer, admin: Principal) -> None:
    reader = principal(services, "acme", frozenset({Scope.READ, Scope.VERIFY}))
    with pytest.raises(Forbidden):
        services.enrolment.enrol_user(reader, email=None, phone="123456")
    system = Principal(tenant="system", client="ops", scopes=frozenset({Scope.WRITE}))
    with pytest.raises(Forbidden):
        services.enrolment.enrol_user(system, email=None, phone="123456")
    enrolled = services.enrolment.enrol_user(admin, email=None, phone="123456")
    sealer.sealed = True
    with pytest.raises(Sealed):
        services.enrolment.enrol_user(admin, email=None, phone="123456")
    with pytest.raises(Sealed):
        services.enrolment.enrolment_uri(enrolled.ticket)
    sealer.sealed = False
    assert services.enrolment.enrolment_uri(enrolled.ticket)


def test_expired_tickets_are_swept(
    services: Services, admin: Principal, store: MemoryStore, clock: FakeClock
) -> None:
    """Enrolment no longer sweeps (that was an extra commit per createuser); the app's
    periodic sweep does (tests/core/test_sweep.py)."""
    old = services.enrolment.enrol_user(admin, email=None, phone="123456")
    clock.advance(TICKET_LIFETIME_S)
    live = services.enrolment.enrol_user(admin, email=None, phone="123456")
    assert store.get_enrolment_ticket(hash_ticket(old.ticket)) is not None
    assert services.sweep_expired() == 1
    assert store.get_enrolment_ticket(hash_ticket(old.ticket)) is None
    assert store.get_enrolment_ticket(hash_ticket(live.ticket)) is not None


def test_random_source_is_injected(
    store: MemoryStore, sealer: FakeSealer, clock: FakeClock
) -> None:
    counter = iter(range(1, 1000))
    services = compose_services(
        store, sealer, clock, random_bytes=lambda n: bytes([next(counter)]) * n, label_prefix="Sbox"
    )
    admin = principal(services, "acme")
    enrolled = services.enrolment.enrol_user(admin, email=None, phone="123456")
    assert enrolled.secret.reveal() == bytes([1]) * 20
    assert base64.urlsafe_b64decode(enrolled.ticket + "=") == bytes([2]) * 32


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_enrolment_ticket_dies_when_the_secret_is_replaced(kind: str, tmp_path: Path) -> None:
    """An enrolment link that leaked is the classic reason to rotate a secret. The old
    ticket served the QR code of the credential as it is now, so for the rest of its 15
    minutes it handed out the new secret too."""
    store = MemoryStore() if kind == "memory" else SqliteStore(tmp_path / "otpd.db")
    services = compose_services(store, FakeSealer(), FakeClock(), label_prefix="Sbox")
    _, key = services.access.create_client("acme", "c1", ALL_SCOPES)
    admin = services.access.authenticate(key)
    enrolled = services.enrolment.enrol_user(admin, email="ann@example.com", phone="+46701234567")
    assert "secret=" in services.enrolment.enrolment_uri(enrolled.ticket)
    spec = CredentialSpec(name=enrolled.record.name, account_name="ann")
    services.credentials.replace_credential(admin, spec, SecretBytes(bytes(range(1, 21))))
    with pytest.raises(NotFound):
        services.enrolment.enrolment_uri(enrolled.ticket)
    store.close()
