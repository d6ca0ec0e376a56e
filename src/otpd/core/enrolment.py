"""Token2 enrolment (issue #5): a credential named after the user's e-mail, and an enrolment
ticket that lets an <img> tag fetch the credential's QR code for a short while.

docs/requirements.md#model: `createuser` names the credential after its `email` when that is a valid
credential name and free in the tenant, else `user<id>`. docs/api-token2.md: the `hashqr` URL
carries an unguessable ticket (at least 128 random bits) that serves the PNG for 15 minutes and
then 404s. Only the ticket's SHA-256 is stored, as with API keys and bearer tokens: a copy of
the database does not hand out QR codes.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from otpd.core.errors import AlreadyExists, InvalidInput, NotFound
from otpd.core.model import (
    CREDENTIAL_NAME,
    CredentialRecord,
    CredentialSpec,
    OtpParams,
    SecretBytes,
    has_control_characters,
)

if TYPE_CHECKING:  # ports imports EnrolmentTicket from here
    from otpd.core.ports import CredentialStateStore, Sealer

__all__ = [
    "TICKET_BYTES",
    "TICKET_LIFETIME_S",
    "TOKEN2_KEY_SIZE",
    "TOKEN2_PARAMS",
    "Enrolment",
    "EnrolmentTicket",
    "candidate_names",
    "credential_for_ticket",
    "enrol",
    "hash_ticket",
    "is_well_formed_ticket",
    "new_ticket",
    "normalise_phone",
    "validate_email",
]

TICKET_LIFETIME_S = 15 * 60  # docs/api-token2.md: the PNG is served for 15 minutes, then 404
TICKET_BYTES = 32  # 256 random bits (docs/api-token2.md asks for at least 128)
TOKEN2_KEY_SIZE = 20  # the vendor's public clients: `hash` is 32 Base32 characters (20 bytes)
# SHA-1, 6 digits, 30 s: what Token2's apps use (the vendor's public clients)
TOKEN2_PARAMS = OtpParams()

_TICKET = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of TICKET_BYTES, no padding
_PHONE_SEPARATORS = re.compile(r"[ ().-]")
_PHONE_DIGITS = re.compile(r"[0-9]{6,15}")  # E.164 allows at most 15 digits
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+")
MAX_EMAIL_LENGTH = 254  # RFC 5321's path limit less the angle brackets
_MAX_NAME_TRIES = 20


@dataclass(frozen=True)
class EnrolmentTicket:
    """What the store keeps of a ticket: its hash, whose credential, and until when."""

    ticket_hash: str  # SHA-256 hex of the ticket; the ticket itself is shown once
    tenant: str
    credential_id: int
    expires_at_us: int


class Enrolment(NamedTuple):
    record: CredentialRecord
    # shown once, in the createuser answer (docs/requirements.md#no-secret-leaves)
    secret: SecretBytes
    ticket: str  # shown once, inside `hashqr`

    def __repr__(self) -> str:  # the ticket is a bearer capability: never in a log line
        return f"Enrolment(record={self.record!r}, secret={self.secret!r}, ticket=***)"


def hash_ticket(ticket: str) -> str:
    return hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def is_well_formed_ticket(ticket: object) -> bool:
    return isinstance(ticket, str) and _TICKET.fullmatch(ticket) is not None


def new_ticket(
    random_bytes: bytes, tenant: str, credential_id: int, now_us: int
) -> tuple[str, EnrolmentTicket]:
    if len(random_bytes) < 16:
        raise ValueError("an enrolment ticket needs at least 128 random bits")
    ticket = base64.urlsafe_b64encode(random_bytes).rstrip(b"=").decode("ascii")
    expires = now_us + TICKET_LIFETIME_S * 1_000_000
    return ticket, EnrolmentTicket(hash_ticket(ticket), tenant, credential_id, expires)


def normalise_phone(phone: object) -> str:
    """E.164 with or without `+` (the WordPress plugin strips it), common separators allowed,
    6-15 digits. Returns `+<digits>`, the one spelling stored."""
    if not isinstance(phone, str) or len(phone) > 64:
        raise InvalidInput("phone", "must be a phone number of 6-15 digits")
    digits = _PHONE_SEPARATORS.sub("", phone.removeprefix("+"))
    if not _PHONE_DIGITS.fullmatch(digits):
        raise InvalidInput("phone", "must be a phone number of 6-15 digits")
    return "+" + digits


def validate_email(email: object) -> str:
    """Loose on purpose (internationalised addresses exist): one `@`, no whitespace or control
    characters, at most 254 characters. The address is stored, never sent anywhere."""
    if (
        not isinstance(email, str)
        or len(email) > MAX_EMAIL_LENGTH
        or not _EMAIL.fullmatch(email)
        or has_control_characters(email)
    ):
        raise InvalidInput("email", "must be an e-mail address")
    return email


def candidate_names(email: str | None, credential_id: int) -> Iterator[str]:
    """The e-mail when it is a valid credential name, then `user<id>`, then `user<id>-2`...
    (a Strongbox client may already have named a credential `user<id>`)."""
    if email is not None and CREDENTIAL_NAME.fullmatch(email):
        yield email
    yield f"user{credential_id}"
    for n in range(2, _MAX_NAME_TRIES + 1):
        yield f"user{credential_id}-{n}"


def enrol(
    store: CredentialStateStore,
    sealer: Sealer,
    tenant: str,
    *,
    email: str | None,
    phone: str,
    now_us: int,
    random_bytes: Callable[[int], bytes],
) -> Enrolment:
    """Create a Token2 user: a TOTP credential (SHA-1/6/30, 20-byte secret) and its ticket.

    The name is settled by the insert itself (a taken name raises AlreadyExists and the next
    candidate is tried), so two concurrent createuser calls with one e-mail cannot both win.
    The credential is written before its ticket: if the ticket write fails the caller gets an
    error and the credential stays, like any other half-finished enrolment."""
    email = validate_email(email) if email is not None else None
    phone = normalise_phone(phone)
    secret = SecretBytes(random_bytes(TOKEN2_KEY_SIZE))
    credential_id = store.allocate_credential_id()
    sealed = sealer.seal_secret(secret, tenant=tenant, credential_id=credential_id)
    for name in candidate_names(email, credential_id):
        spec = _token2_spec(name, tenant, email, phone)
        record = _record(spec, credential_id, tenant, now_us, sealed)
        try:
            store.insert_credential(record)
        except AlreadyExists:
            continue
        ticket, stored = new_ticket(random_bytes(TICKET_BYTES), tenant, credential_id, now_us)
        store.insert_enrolment_ticket(stored)
        return Enrolment(record, secret, ticket)
    raise AlreadyExists("no free credential name")


def _token2_spec(name: str, tenant: str, email: str | None, phone: str) -> CredentialSpec:
    # The issuer is the tenant: the one label every user of this tenant shares.
    return CredentialSpec(
        name=name,
        params=TOKEN2_PARAMS,
        key_size=TOKEN2_KEY_SIZE,
        issuer=tenant,
        account_name=name,
        email=email,
        phone=phone,
    )


def credential_for_ticket(
    store: CredentialStateStore, ticket: object, now_us: int
) -> CredentialRecord:
    """The credential a live ticket stands for. Malformed, unknown, expired, or a credential
    deleted since: all the same NotFound, so the image URL says nothing after expiry."""
    if not is_well_formed_ticket(ticket):
        raise NotFound("no such enrolment ticket")
    assert isinstance(ticket, str)
    stored = store.get_enrolment_ticket(hash_ticket(ticket))
    if stored is None or stored.expires_at_us <= now_us:
        raise NotFound("no such enrolment ticket")
    record = store.get_credential_by_id(stored.tenant, stored.credential_id)
    if record is None:
        raise NotFound("no such enrolment ticket")
    return record


def _record(
    spec: CredentialSpec, credential_id: int, tenant: str, now_us: int, sealed: bytes
) -> CredentialRecord:
    return CredentialRecord.from_spec(
        spec,
        credential_id=credential_id,
        tenant=tenant,
        key_size=TOKEN2_KEY_SIZE,
        created_at_us=now_us,
        sealed_secret=sealed,
    )
