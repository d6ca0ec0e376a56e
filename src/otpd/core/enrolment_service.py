"""EnrolmentService: enrolment tickets (issue #5; the rules live in core.enrolment) and the
console's self-service enrolment links (issue #16): issuing one, what it shows, its first code.

A ticket is the authority for what it opens: the QR code behind a `createuser` answer's image
URL, or the console's one-time enrolment link. No principal is needed for either, so both say
the same NotFound for anything but a live ticket.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from otpd.core import access
from otpd.core.context import ServiceContext
from otpd.core.credential_service import CredentialService
from otpd.core.enrolment import (
    TICKET_BYTES,
    Enrolment,
    credential_for_ticket,
    enrol,
    new_ticket,
)
from otpd.core.errors import NotFound
from otpd.core.model import (
    CredentialRecord,
    CredentialSpec,
    Principal,
    Scope,
    SecretBytes,
    validate_credential_name,
)
from otpd.core.ports import CredentialStateStore, Sealer
from otpd.core.provisioning import KeyUriBuilder
from otpd.core.seal_service import open_record_secret, require_unsealed
from otpd.core.verification import Verifier

__all__ = ["EnrolmentService", "PendingEnrolment"]


@dataclass(frozen=True)
class PendingEnrolment:
    """What a live self-service link shows: only on that page, never in a log or a URL."""

    record: CredentialRecord
    uri: str  # the otpauth URI: it carries the secret
    secret: SecretBytes  # for manual entry

    def __repr__(self) -> str:
        return f"PendingEnrolment({self.record.tenant}/{self.record.name})"


class EnrolmentService:
    def __init__(
        self,
        store: CredentialStateStore,
        sealer: Sealer,
        context: ServiceContext,
        verifier: Verifier,
        uris: KeyUriBuilder,
        credentials: CredentialService,  # a link's credential is created or re-keyed there
        *,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._context = context
        self._verifier = verifier
        self._uris = uris
        self._credentials = credentials
        self._random_bytes = random_bytes

    def enrol_user(self, principal: Principal, *, email: str | None, phone: str) -> Enrolment:
        """Token2 createuser: a SHA-1/6/30 credential with a 20-byte secret, named after the
        e-mail when possible, else `user<id>`, plus a 15-minute enrolment ticket."""
        access.require(principal, Scope.WRITE)
        access.require_credential_tenant(principal)
        require_unsealed(self._sealer)
        return enrol(
            self._store,
            self._sealer,
            principal.tenant,
            email=email,
            phone=phone,
            now_us=self._context.now_us(),
            random_bytes=self._random_bytes,
        )

    def enrolment_uri(self, ticket: str) -> str:
        """The otpauth URI behind a live enrolment ticket. No principal: the ticket is the
        authority (an <img> tag fetches it). Anything but a live ticket is NotFound."""
        require_unsealed(self._sealer)
        try:
            record = credential_for_ticket(self._store, ticket, self._context.now_us())
        except NotFound:
            self._context.emit("enrolment.ticket", "notfound")
            raise
        self._context.emit("enrolment.ticket", "ok", tenant=record.tenant, target=record.name)
        return self._uris.uri_for(record, open_record_secret(self._sealer, record))

    # --- the console's self-service links (issue #16, docs/console.md) -----------------
    def issue_link(self, principal: Principal, name: str) -> str:
        """A one-time enrolment link's ticket for `name` (shown once): a new credential, or
        (re-enrol) the existing one with a new secret, then `pending` with its ticket in one
        write. Re-keying deletes the credential's older tickets."""
        validate_credential_name(name)  # before the audit row: it names the credential
        with self._context.audited(principal, "enrolment.link", name):
            access.require(principal, Scope.WRITE)
            access.require_credential_tenant(principal)  # not an admin's own TOTP credential
            existing = self._store.get_credential(principal.tenant, name)
            if existing is None:
                spec = CredentialSpec(name=name, issuer=principal.tenant, account_name=name)
                record, _ = self._credentials.create_credential(principal, spec)
            else:  # a new secret: the old one (and any ticket for it) stops working now
                spec = CredentialSpec(
                    name=name,
                    params=existing.params,
                    issuer=existing.issuer,
                    account_name=existing.account_name,
                )
                secret = SecretBytes(self._random_bytes(existing.key_size))
                record = self._credentials.replace_credential(principal, spec, secret)
            ticket, stored = new_ticket(
                self._random_bytes(TICKET_BYTES), principal.tenant, record.id, self._now_us()
            )
            self._store.start_enrolment(stored)
        return ticket

    def pending_enrolment(self, ticket: str) -> PendingEnrolment:
        """What a live link of a pending credential shows (its secret: the ticket is the
        authority, as for enrolment_uri). NotFound for anything else."""
        record = self._pending(ticket, "enrolment.ticket")
        secret = open_record_secret(self._sealer, record)  # Sealed: the page says so
        self._context.emit("enrolment.ticket", "ok", tenant=record.tenant, target=record.name)
        return PendingEnrolment(record, self._uris.uri_for(record, secret), secret)

    def confirm_enrolment(self, ticket: str, code: object) -> bool:
        """The first code of a self-service enrolment: the one door through which a `pending`
        credential's code counts, under the same replay and throttle rules (its step is
        consumed). Accepted: the credential is active and the link dead, in one write."""
        record = self._pending(ticket, "enrolment confirm")
        with self._verifier.under_way():
            require_unsealed(self._sealer)
            result = self._verifier.evaluate(record.tenant, record, code, pending_ok=True)
        outcome = result.outcome.value
        if result.accepted and not self._store.finish_enrolment(record.tenant, record.id):
            outcome = "notfound"  # deleted, disabled or re-keyed since the code was checked
        self._context.emit("enrolment confirm", outcome, tenant=record.tenant, target=record.name)
        if outcome == "notfound":
            raise NotFound("no such enrolment ticket")
        return result.accepted

    def _pending(self, ticket: str, action: str) -> CredentialRecord:
        """The pending credential of a live ticket; NotFound (reported as `action`) else."""
        try:
            record = credential_for_ticket(self._store, ticket, self._now_us())
            if record.state != "pending":
                raise NotFound("no such enrolment ticket")
        except NotFound:
            self._context.emit(action, "notfound")
            raise
        return record

    def _now_us(self) -> int:
        return self._context.now_us()

    def sweep_expired_tickets(self) -> int:
        """Delete expired enrolment tickets (lookups check expiry themselves: this only keeps
        the table small)."""
        return self._store.delete_expired_enrolment_tickets(self._context.now_us())
