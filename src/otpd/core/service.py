"""CredentialService: the only thing API adapters and the CLI call.

It reads the clock, loads and unseals secrets, asks `core.policy`, runs `core.otp`, and commits
through the store's atomic methods. The rule "a code is accepted once" lives here and in
`CredentialStore.advance`, so it holds for every API alike (docs/requirements.md#single-use).
"""

from __future__ import annotations

from dataclasses import replace

from otpd.core import access
from otpd.core.access_service import AccessService
from otpd.core.codes import code_text
from otpd.core.enrolment import Enrolment, credential_for_ticket, enrol
from otpd.core.errors import (
    AlreadyExists,
    NotFound,
    PreconditionFailed,
    SecretCorrupted,
)
from otpd.core.model import (
    CredentialRecord,
    CredentialSpec,
    OtpParams,
    Outcome,
    Principal,
    Scope,
    SecretBytes,
    VerifyResult,
    validate_secret,
    validate_tenant_id,
)
from otpd.core.otp import totp, totp_step
from otpd.core.policy import evaluate_code, is_throttled, usable
from otpd.core.provisioning import build_uri

__all__ = ["CredentialService"]

_DUMMY_SECRET = bytes(20)
_DUMMY_PARAMS = OtpParams()  # built once: an unknown name must not cost more than a known one


class CredentialService(AccessService):
    """Credentials and verification on top of AccessService's tenants, clients and seal."""

    # --- credentials ---------------------------------------------------------------------
    def create_credential(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> tuple[CredentialRecord, SecretBytes]:
        """Enrol a credential; returns it and its secret (the only time the secret leaves)."""
        with self.audited(principal, "credential.create", spec.name):
            return self._create_credential(principal, spec, secret)

    def _create_credential(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None
    ) -> tuple[CredentialRecord, SecretBytes]:
        self._require_new_name(principal, spec)
        secret, key_size = self._secret_for(spec, secret)
        credential_id = self.store.allocate_credential_id()
        record = CredentialRecord.from_spec(
            spec,
            credential_id=credential_id,
            tenant=principal.tenant,
            key_size=key_size,
            created_at_us=self.clock.now_us(),
            sealed_secret=self.sealer.seal_secret(
                secret, tenant=principal.tenant, credential_id=credential_id
            ),
        )
        self.store.insert_credential(record)
        return record, secret

    def check_create(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> None:
        """Every check create_credential makes, with no effect (Strongbox validate=true)."""
        self._require_new_name(principal, spec)
        if secret is not None:
            validate_secret(secret, "secret")

    def check_replace(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> None:
        access.require(principal, Scope.WRITE)
        self._get_unsealed(principal.tenant, spec.name)
        if secret is not None:
            validate_secret(secret, "secret")

    def get_credential_for_update(self, principal: Principal, name: str) -> CredentialRecord:
        """Read a credential in order to change it: scope write, not read."""
        access.require(principal, Scope.WRITE)
        return self._get_unsealed(principal.tenant, name)

    def replace_credential(
        self,
        principal: Principal,
        spec: CredentialSpec,
        secret: SecretBytes | None = None,
        *,
        expect_version: int | None = None,
    ) -> CredentialRecord:
        with self.audited(principal, "credential.replace", spec.name):
            return self._replace_credential(principal, spec, secret, expect_version)

    def _replace_credential(
        self,
        principal: Principal,
        spec: CredentialSpec,
        secret: SecretBytes | None,
        expect_version: int | None,
    ) -> CredentialRecord:
        """Replace an existing credential's settings (and its secret when one is given or the
        key size changes). The id and creation time stay. Replay and failure state reset only
        when the secret changes: with the same secret a consumed code must stay consumed
        (docs/requirements.md#single-use), so a new period keeps the replay state in time units (the
        store rescales it, core.policy.rescale_step) and keeps the failures and any backoff or lock.
        With expect_version the write is a compare-and-set: PreconditionFailed if the credential
        changed since the caller read it."""
        access.require(principal, Scope.WRITE)
        current = self._get_unsealed(principal.tenant, spec.name)
        if expect_version not in (None, current.version):
            raise PreconditionFailed("the credential changed")
        same_secret = True
        if secret is None and spec.effective_key_size == current.key_size:
            sealed = current.sealed_secret
            key_size = current.key_size
        else:
            new_secret, key_size = self._secret_for(spec, secret)
            # Compare plaintexts: the sealer's random nonce makes two ciphertexts of one
            # secret differ, and re-importing the same secret must not re-admit a used code.
            same_secret = secret is not None and self._holds_secret(current, new_secret)
            sealed = (
                current.sealed_secret
                if same_secret
                else self.sealer.seal_secret(
                    new_secret, tenant=current.tenant, credential_id=current.id
                )
            )
        fresh = CredentialRecord.from_spec(
            spec,
            credential_id=current.id,
            tenant=current.tenant,
            key_size=key_size,
            created_at_us=current.created_at_us,
            sealed_secret=sealed,
        )
        record = replace(
            fresh,
            # Strongbox has no email/phone fields: a PUT from it keeps what Token2 stored.
            email=spec.email if spec.email is not None else current.email,
            phone=spec.phone if spec.phone is not None else current.phone,
            last_step=current.last_step,
            throttle=current.throttle,
        )
        reset = not same_secret
        if not same_secret:
            # A live Token2 enrolment ticket shows the credential as it is now: it must not
            # hand out the new secret (rotating is the remedy for a leaked enrolment link).
            # Before the write, so no moment exists where an old ticket shows the new secret.
            self.store.delete_enrolment_tickets(current.tenant, current.id)
        if not self.store.replace_credential(
            record, reset_state=reset, expect_version=expect_version
        ):
            _explain_missed_write(conditional=expect_version is not None)
        return replace(record, version=current.version + 1)

    def get_credential(self, principal: Principal, name: str) -> CredentialRecord:
        access.require(principal, Scope.READ)
        return self._get_unsealed(principal.tenant, name)

    def get_credential_by_id(self, principal: Principal, credential_id: int) -> CredentialRecord:
        access.require(principal, Scope.READ)
        self._require_unsealed()
        record = self.store.get_credential_by_id(principal.tenant, credential_id)
        if record is None:
            raise NotFound("no such credential")
        return record

    def list_credentials(self, principal: Principal) -> list[CredentialRecord]:
        access.require(principal, Scope.READ)
        self._require_unsealed()
        return self.store.list_credentials(principal.tenant)

    def delete_credential(
        self, principal: Principal, name: str, *, expect_version: int | None = None
    ) -> None:
        with self.audited(principal, "credential.delete", name):
            access.require(principal, Scope.WRITE)
            self._require_unsealed()
            deleted = self.store.delete_credential(
                principal.tenant, name, expect_version=expect_version
            )
            if not deleted:
                _explain_missed_write(conditional=expect_version is not None)

    def reveal_secret(self, principal: Principal, name: str) -> SecretBytes:
        with self.audited(principal, "credential.reveal", name):
            access.require(principal, Scope.REVEAL)
            record = self._get_unsealed(principal.tenant, name)
            return self._open(record)

    def secret_of(self, principal: Principal, record: CredentialRecord) -> SecretBytes:
        """The secret of a record the caller has just read (scope reveal), without reading it
        again: a Strongbox list shows each entry's secret at the version it listed."""
        with self.audited(principal, "credential.reveal", record.name):
            access.require(principal, Scope.REVEAL)
            self._require_unsealed()
            if record.tenant != principal.tenant:
                raise NotFound("no such credential")
            return self._open(record)

    def key_uri(self, principal: Principal, name: str) -> str:
        """The otpauth:// URI (it carries the secret, so it needs scope reveal)."""
        with self.audited(principal, "credential.get-qr-code", name):
            access.require(principal, Scope.REVEAL)
            record = self._get_unsealed(principal.tenant, name)
            return self.uri_for(record, self._open(record))

    def uri_for(self, record: CredentialRecord, secret: SecretBytes) -> str:
        """The otpauth URI. A tenant with an issuer (a Token2 or PhenixID company, issue #13)
        names its credentials in the app; else the Strongbox label prefix setting decides."""
        tenant = self.store.get_tenant(record.tenant)
        issuer = tenant.issuer if tenant is not None and tenant.issuer else None
        prefix = record.issuer if self.label_prefix == "issuer" else self.label_prefix
        return build_uri(
            secret=secret,
            label_prefix=issuer or prefix,
            account_name=record.account_name,
            issuer=issuer or record.issuer,
            params=record.params,
        )

    def current_code(self, principal: Principal, name: str) -> str:
        """A valid code for now (scope code: it makes valid codes)."""
        with self.audited(principal, "credential.get-code", name):
            access.require(principal, Scope.CODE)
            record = self._get_unsealed(principal.tenant, name)
            params = record.params
            secret = self._open(record).reveal()
            return totp(secret, self.now(), params.period, params.digits, params.algorithm)

    # --- verification --------------------------------------------------------------------
    def verify(self, principal: Principal, name: str, code: object) -> VerifyResult:
        """Verify `code` for the credential `name`. Always a value: an unknown name is
        UNKNOWN after the same work as a wrong code; each API decides how to say it
        (docs/requirements.md#no-oracle: Strongbox verify-code 404, the others a rejection)."""
        access.require(principal, Scope.VERIFY)
        with self._in_flight.shared():  # seal() waits for this verification (see _evaluate)
            self._require_unsealed()
            record = self.store.get_credential(principal.tenant, name)
            return self._verify_record(principal, record, code)

    def verify_by_id(self, principal: Principal, credential_id: int, code: object) -> VerifyResult:
        access.require(principal, Scope.VERIFY)
        with self._in_flight.shared():
            self._require_unsealed()
            record = self.store.get_credential_by_id(principal.tenant, credential_id)
            return self._verify_record(principal, record, code)

    def reset_credential(self, tenant_id: str, name: str) -> None:
        """Clear a credential's failures, backoff and spent guess budget (administration, CLI:
        `otpd credential reset`). The replay state stays: a used code stays used."""
        with self.audited(None, "credential.reset", name, tenant_id):
            if not self.store.reset_failures(validate_tenant_id(tenant_id), name):
                raise NotFound("no such credential")

    def _verify_record(
        self, principal: Principal, record: CredentialRecord | None, code: object
    ) -> VerifyResult:
        result = self._evaluate(principal.tenant, record, code)
        offset = None
        if record is not None and result.matched_step is not None:
            offset = result.matched_step - totp_step(self.now(), record.params.period)
        # The credential's stored name; an unknown name is not recorded: it is the caller's
        # raw input, and a user who types a code or password into the name field must not
        # find it in the trail.
        self.emit(
            "verify",
            result.outcome.value,
            tenant=principal.tenant,
            caller=principal.client,
            target=record.name if record else "-",
            offset=offset,
        )
        return result

    def confirm_pending(self, record: CredentialRecord, code: object) -> VerifyResult:
        """Verify the first code of a self-service enrolment (issue #16): the one door through
        which a `pending` credential's code counts, under the same replay and throttle rules;
        the caller (who holds the live enrolment ticket) then activates the credential."""
        with self._in_flight.shared():
            self._require_unsealed()
            result = self._evaluate(record.tenant, record, code, pending_ok=True)
        self.emit(
            "enrolment confirm", result.outcome.value, tenant=record.tenant, target=record.name
        )
        return result

    def _evaluate(
        self,
        tenant: str,
        record: CredentialRecord | None,
        code: object,
        *,
        pending_ok: bool = False,
    ) -> VerifyResult:
        """Every answer but ACCEPTED costs the same work: an unseal, the window's HMACs and
        one write, whether the name is unknown, the credential throttled or locked, or the
        code wrong or replayed (docs/requirements.md#no-oracle, docs/requirements.md#equal-work;
        bench/verify_throughput.py measured an unknown name 100x faster than a wrong code before the
        write was added). The writes happen under `_in_flight` after a last look at the seal, so
        none lands after seal() returns."""
        now = self.now()
        if record is None:
            self._open_dummy()
            evaluate_code(
                _DUMMY_SECRET, _DUMMY_PARAMS, code_text(code, _DUMMY_PARAMS.digits), now, -1
            )
            self._require_unsealed()
            self.store.record_unknown_attempt(tenant)
            return VerifyResult(Outcome.UNKNOWN)
        secret = self._open(record)
        params = record.params  # a NumericCode is zero-padded to these digits (core.codes)
        text = code_text(code, params.digits)
        outcome, step = evaluate_code(secret.reveal(), params, text, now, record.last_step)
        if not usable(record.state, pending_ok=pending_ok):
            # Disabled, or awaiting its first code (issue #16): a wrong code through every
            # door, after the same HMACs and with the same one write.
            outcome, step = Outcome.REJECTED, None
        self._require_unsealed()  # a sibling worker may have sealed since the unseal above
        if is_throttled(record.throttle, now):
            # The outcome is not used and no failure is counted, so a flood cannot extend the
            # wait; the write counts a refusal, which no rule reads (docs/security.md).
            self.store.record_refusal(record.id)
            return VerifyResult(Outcome.THROTTLED)
        if outcome is Outcome.ACCEPTED and step is not None:
            # `now` makes the throttle test part of the compare-and-set: the check above read
            # a snapshot, and parallel guesses may have throttled the credential since
            # (docs/requirements.md#throttling).
            if self.store.advance(record.id, step, now=now):
                return VerifyResult(Outcome.ACCEPTED, step)
            # Another request consumed this step first, or throttled the credential meanwhile
            # (then record_failure below counts nothing and answers THROTTLED).
            outcome = Outcome.REPLAYED
        counted = self.store.record_failure(
            record.id, now, lambda failures: self.throttle.after_failure(failures, now, params)
        )
        if counted is None:
            return VerifyResult(Outcome.THROTTLED)
        return VerifyResult(outcome)

    # --- Token2 enrolment (issue #5; the rules live in core.enrolment) ---------------------
    def enrol_user(self, principal: Principal, *, email: str | None, phone: str) -> Enrolment:
        """Token2 createuser: a SHA-1/6/30 credential with a 20-byte secret, named after the
        e-mail when possible, else `user<id>`, plus a 15-minute enrolment ticket."""
        access.require(principal, Scope.WRITE)
        self._writable_tenant(principal)
        self._require_unsealed()
        return enrol(
            self.store,
            self.sealer,
            principal.tenant,
            email=email,
            phone=phone,
            now_us=self.clock.now_us(),
            random_bytes=self._random_bytes,
        )

    def enrolment_uri(self, ticket: str) -> str:
        """The otpauth URI behind a live enrolment ticket. No principal: the ticket is the
        authority (an <img> tag fetches it). Anything but a live ticket is NotFound."""
        self._require_unsealed()
        try:
            record = credential_for_ticket(self.store, ticket, self.clock.now_us())
        except NotFound:
            self.emit("enrolment.ticket", "notfound")
            raise
        self.emit("enrolment.ticket", "ok", tenant=record.tenant, target=record.name)
        return self.uri_for(record, self._open(record))

    # --- helpers -------------------------------------------------------------------------
    def _require_new_name(self, principal: Principal, spec: CredentialSpec) -> None:
        """The checks before a credential is created: scope, tenant, seal, a free name."""
        access.require(principal, Scope.WRITE)
        self._writable_tenant(principal)
        self._require_unsealed()
        if self.store.get_credential(principal.tenant, spec.name) is not None:
            raise AlreadyExists("name taken")

    def _get(self, tenant: str, name: str) -> CredentialRecord:
        record = self.store.get_credential(tenant, name)
        if record is None:
            raise NotFound("no such credential")
        return record

    def _get_unsealed(self, tenant: str, name: str) -> CredentialRecord:
        self._require_unsealed()
        return self._get(tenant, name)

    def _holds_secret(self, record: CredentialRecord, secret: SecretBytes) -> bool:
        try:
            return self._open(record) == secret
        except SecretCorrupted:  # replacing is how a corrupted row gets repaired
            return False

    def _open_dummy(self) -> None:
        """Decrypt a throw-away secret, as a known credential's verification would."""
        if self._dummy_blob is None:
            secret = SecretBytes(_DUMMY_SECRET)
            self._dummy_blob = self.sealer.seal_secret(secret, tenant="-", credential_id=0)
        self.sealer.open_secret(self._dummy_blob, tenant="-", credential_id=0)

    def _open(self, record: CredentialRecord) -> SecretBytes:
        return self.sealer.open_secret(
            record.sealed_secret, tenant=record.tenant, credential_id=record.id
        )

    def _secret_for(
        self, spec: CredentialSpec, secret: SecretBytes | None
    ) -> tuple[SecretBytes, int]:
        if secret is not None:
            validate_secret(secret, "secret")
            return secret, len(secret)  # an imported secret's length overrides key-size
        size = spec.effective_key_size
        return SecretBytes(self._random_bytes(size)), size


def _explain_missed_write(*, conditional: bool) -> None:
    """A write touched no row. Conditional: the version the caller holds is no longer there,
    changed or deleted (RFC 9110 §13.1.1: 412 either way). Else it is gone."""
    if conditional:
        raise PreconditionFailed("the credential changed")
    raise NotFound("no such credential")
