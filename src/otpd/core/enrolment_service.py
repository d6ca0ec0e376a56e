"""EnrolmentService: enrolment tickets (issue #5; the rules live in core.enrolment) and the first
code of a self-service enrolment (issue #16).

A ticket is the authority for what it opens: the QR code behind a `createuser` answer's image
URL, or the console's one-time enrolment link. No principal is needed for either, so both say
the same NotFound for anything but a live ticket.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from otpd.core import access
from otpd.core.context import ServiceContext
from otpd.core.enrolment import Enrolment, credential_for_ticket, enrol
from otpd.core.errors import NotFound
from otpd.core.model import CredentialRecord, Principal, Scope, VerifyResult
from otpd.core.ports import CredentialStateStore, Sealer
from otpd.core.provisioning import KeyUriBuilder
from otpd.core.seal_service import open_record_secret, require_unsealed
from otpd.core.verification import Verifier

__all__ = ["EnrolmentService"]


class EnrolmentService:
    def __init__(
        self,
        store: CredentialStateStore,
        sealer: Sealer,
        context: ServiceContext,
        verifier: Verifier,
        uris: KeyUriBuilder,
        *,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._context = context
        self._verifier = verifier
        self._uris = uris
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

    def confirm_pending(self, record: CredentialRecord, code: object) -> VerifyResult:
        """Verify the first code of a self-service enrolment (issue #16): the one door through
        which a `pending` credential's code counts, under the same replay and throttle rules;
        the caller (who holds the live enrolment ticket) then activates the credential."""
        with self._verifier.under_way():
            require_unsealed(self._sealer)
            result = self._verifier.evaluate(record.tenant, record, code, pending_ok=True)
        self._context.emit(
            "enrolment confirm", result.outcome.value, tenant=record.tenant, target=record.name
        )
        return result

    def sweep_expired_tickets(self) -> int:
        """Delete expired enrolment tickets (lookups check expiry themselves: this only keeps
        the table small)."""
        return self._store.delete_expired_enrolment_tickets(self._context.now_us())
