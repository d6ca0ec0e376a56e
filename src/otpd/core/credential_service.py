"""CredentialService: a tenant's credentials -- create, replace, read, delete, reveal, the
current code -- and their verification.

It reads the clock, loads and unseals secrets, asks `core.policy` (through core.verification),
and commits through the store's atomic methods. The rule "a code is accepted once" lives in
core.verification and `CredentialStateStore.advance`, so it holds for every API alike
(docs/requirements.md#single-use).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace

from otpd.core import access
from otpd.core.console import admin_credential_name, validate_admin_name
from otpd.core.context import ServiceContext
from otpd.core.errors import AlreadyExists, NotFound, PreconditionFailed, SecretCorrupted
from otpd.core.model import (
    SYSTEM_TENANT,
    CredentialRecord,
    CredentialSpec,
    Principal,
    Scope,
    SecretBytes,
    VerifyResult,
    validate_secret,
    validate_tenant_id,
)
from otpd.core.otp import totp, totp_step
from otpd.core.ports import CredentialStateStore, Sealer
from otpd.core.provisioning import KeyUriBuilder
from otpd.core.seal_service import open_record_secret, require_unsealed
from otpd.core.verification import Verifier

__all__ = ["ADMIN_ISSUER", "CredentialService"]

ADMIN_ISSUER = "otpd console"  # the issuer (and label prefix) of a console admin's credential


class CredentialService:
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

    # --- create ----------------------------------------------------------------------------
    def create_credential(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> tuple[CredentialRecord, SecretBytes]:
        """Enrol a credential; returns it and its secret (the only time the secret leaves)."""
        with self._context.audited(principal, "credential.create", spec.name):
            self._require_new_name(principal, spec)
            return self._insert_new(principal.tenant, spec, secret)

    def create_admin_credential(self, admin: str) -> tuple[CredentialRecord, SecretBytes]:
        """A console admin's TOTP credential, in the reserved tenant `system`, where no API
        client may create one (docs/console.md#admins). Administration: no principal."""
        name = admin_credential_name(validate_admin_name(admin))
        with self._context.audited(None, "credential.create", name, SYSTEM_TENANT):
            require_unsealed(self._sealer)
            spec = CredentialSpec(name=name, issuer=ADMIN_ISSUER, account_name=admin)
            return self._insert_new(SYSTEM_TENANT, spec, None)

    def _insert_new(
        self, tenant: str, spec: CredentialSpec, secret: SecretBytes | None
    ) -> tuple[CredentialRecord, SecretBytes]:
        secret, key_size = self._secret_for(spec, secret)
        credential_id = self._store.allocate_credential_id()
        record = CredentialRecord.from_spec(
            spec,
            credential_id=credential_id,
            tenant=tenant,
            key_size=key_size,
            created_at_us=self._context.now_us(),
            sealed_secret=self._sealer.seal_secret(
                secret, tenant=tenant, credential_id=credential_id
            ),
        )
        self._store.insert_credential(record)
        return record, secret

    def check_create(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> None:
        """Every check create_credential makes, with no effect (a dry run)."""
        self._require_new_name(principal, spec)
        if secret is not None:
            validate_secret(secret, "secret")

    # --- replace ---------------------------------------------------------------------------
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
        """Replace an existing credential's settings (and its secret when one is given or the
        key size changes). The id and creation time stay. Replay and failure state reset only
        when the secret changes: with the same secret a consumed code must stay consumed
        (docs/requirements.md#single-use), so a new period keeps the replay state in time units
        (the store rescales it, core.policy.rescale_step) and keeps the failures and any backoff
        or lock. With expect_version the write is a compare-and-set: PreconditionFailed if the
        credential changed since the caller read it."""
        with self._context.audited(principal, "credential.replace", spec.name):
            access.require(principal, Scope.WRITE)
            current = self._get_unsealed(principal.tenant, spec.name)
            if expect_version not in (None, current.version):
                raise PreconditionFailed("the credential changed")
            record, same_secret = self._replacement(current, spec, secret)
            if not same_secret:
                # A live enrolment ticket shows the credential as it is now: it must not hand
                # out the new secret (rotating is the remedy for a leaked enrolment link).
                # Before the write, so no moment exists where an old ticket shows the new one.
                self._store.delete_enrolment_tickets(current.tenant, current.id)
            written = self._store.replace_credential(
                record, reset_state=not same_secret, expect_version=expect_version
            )
            if not written:
                _explain_missed_write(conditional=expect_version is not None)
            return replace(record, version=current.version + 1)

    def _replacement(
        self, current: CredentialRecord, spec: CredentialSpec, secret: SecretBytes | None
    ) -> tuple[CredentialRecord, bool]:
        """The record to write in place of `current`, and whether it keeps the same secret."""
        same_secret = True
        if secret is None and spec.effective_key_size == current.key_size:
            sealed, key_size = current.sealed_secret, current.key_size
        else:
            new_secret, key_size = self._secret_for(spec, secret)
            # Compare plaintexts: the sealer's random nonce makes two ciphertexts of one
            # secret differ, and re-importing the same secret must not re-admit a used code.
            same_secret = secret is not None and self._holds_secret(current, new_secret)
            sealed = (
                current.sealed_secret
                if same_secret
                else self._sealer.seal_secret(
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
            # Some APIs have no email/phone fields: their PUT keeps what another one stored.
            email=spec.email if spec.email is not None else current.email,
            phone=spec.phone if spec.phone is not None else current.phone,
            last_step=current.last_step,
            throttle=current.throttle,
        )
        return record, same_secret

    # --- read and delete -------------------------------------------------------------------
    def get_credential(self, principal: Principal, name: str) -> CredentialRecord:
        access.require(principal, Scope.READ)
        return self._get_unsealed(principal.tenant, name)

    def get_credential_by_id(self, principal: Principal, credential_id: int) -> CredentialRecord:
        access.require(principal, Scope.READ)
        require_unsealed(self._sealer)
        record = self._store.get_credential_by_id(principal.tenant, credential_id)
        if record is None:
            raise NotFound("no such credential")
        return record

    def list_credentials(self, principal: Principal) -> list[CredentialRecord]:
        access.require(principal, Scope.READ)
        require_unsealed(self._sealer)
        return self._store.list_credentials(principal.tenant)

    def count_credentials(self, principal: Principal) -> int:
        """How many credentials the tenant holds (no secret is read: works sealed)."""
        access.require(principal, Scope.READ)
        return self._store.count_credentials(principal.tenant)

    def delete_credential(
        self, principal: Principal, name: str, *, expect_version: int | None = None
    ) -> None:
        with self._context.audited(principal, "credential.delete", name):
            access.require(principal, Scope.WRITE)
            require_unsealed(self._sealer)
            deleted = self._store.delete_credential(
                principal.tenant, name, expect_version=expect_version
            )
            if not deleted:
                _explain_missed_write(conditional=expect_version is not None)

    def reset_credential(self, tenant_id: str, name: str) -> None:
        """Clear a credential's failures, backoff and spent guess budget (administration, CLI:
        `otpd credential reset`; works sealed). The replay state stays: a used code stays
        used."""
        with self._context.audited(None, "credential.reset", name, tenant_id):
            if not self._store.reset_failures(validate_tenant_id(tenant_id), name):
                raise NotFound("no such credential")

    def reset_throttle(self, principal: Principal, name: str) -> None:
        """reset_credential for a caller of the tenant (the console): scope write, unsealed."""
        with self._context.audited(principal, "credential.reset", name):
            access.require(principal, Scope.WRITE)
            self._get_unsealed(principal.tenant, name)
            if not self._store.reset_failures(principal.tenant, name):
                raise NotFound("no such credential")

    def set_enabled(self, principal: Principal, name: str, *, enabled: bool) -> str:
        """Disable a credential (every door then answers its codes as wrong ones, after the
        same work: core.policy.usable) or make it active again; returns the new state."""
        state = "active" if enabled else "disabled"
        action = "credential.enable" if enabled else "credential.disable"
        with self._context.audited(principal, action, name):
            access.require(principal, Scope.WRITE)
            self._get_unsealed(principal.tenant, name)
            if not self._store.set_credential_state(principal.tenant, name, state):
                raise NotFound("no such credential")
        return state

    # --- what carries the secret: scope reveal, or scope code for a code --------------------
    def reveal_secret(self, principal: Principal, name: str) -> SecretBytes:
        with self._context.audited(principal, "credential.reveal", name):
            access.require(principal, Scope.REVEAL)
            record = self._get_unsealed(principal.tenant, name)
            return open_record_secret(self._sealer, record)

    def secret_of(self, principal: Principal, record: CredentialRecord) -> SecretBytes:
        """The secret of a record the caller has just read (scope reveal), without reading it
        again: a listing shows each entry's secret at the version it listed."""
        with self._context.audited(principal, "credential.reveal", record.name):
            access.require(principal, Scope.REVEAL)
            require_unsealed(self._sealer)
            if record.tenant != principal.tenant:
                raise NotFound("no such credential")
            return open_record_secret(self._sealer, record)

    def key_uri(self, principal: Principal, name: str) -> str:
        """The otpauth:// URI (it carries the secret, so it needs scope reveal)."""
        with self._context.audited(principal, "credential.get-qr-code", name):
            access.require(principal, Scope.REVEAL)
            record = self._get_unsealed(principal.tenant, name)
            return self.uri_for(record, open_record_secret(self._sealer, record))

    def uri_for(self, record: CredentialRecord, secret: SecretBytes) -> str:
        """The otpauth URI of a record and the secret the caller already holds."""
        return self._uris.uri_for(record, secret)

    def current_code(self, principal: Principal, name: str) -> str:
        """A valid code for now (scope code: it makes valid codes)."""
        with self._context.audited(principal, "credential.get-code", name):
            access.require(principal, Scope.CODE)
            record = self._get_unsealed(principal.tenant, name)
            params = record.params
            secret = open_record_secret(self._sealer, record).reveal()
            now = self._context.now()
            return totp(secret, now, params.period, params.digits, params.algorithm)

    # --- verification ----------------------------------------------------------------------
    def verify(self, principal: Principal, name: str, code: object) -> VerifyResult:
        """Verify `code` for the credential `name`. Always a value: an unknown name is
        UNKNOWN after the same work as a wrong code; each API decides how to say it
        (docs/requirements.md#no-oracle: a 404 on one, a rejection on the others)."""
        access.require(principal, Scope.VERIFY)
        with self._verifier.under_way():  # seal() waits for this verification
            require_unsealed(self._sealer)
            record = self._store.get_credential(principal.tenant, name)
            return self._verify_record(principal, record, code)

    def verify_by_id(self, principal: Principal, credential_id: int, code: object) -> VerifyResult:
        access.require(principal, Scope.VERIFY)
        with self._verifier.under_way():
            require_unsealed(self._sealer)
            record = self._store.get_credential_by_id(principal.tenant, credential_id)
            return self._verify_record(principal, record, code)

    def _verify_record(
        self, principal: Principal, record: CredentialRecord | None, code: object
    ) -> VerifyResult:
        result = self._verifier.evaluate(principal.tenant, record, code)
        offset = None
        if record is not None and result.matched_step is not None:
            offset = result.matched_step - totp_step(self._context.now(), record.params.period)
        # The credential's stored name; an unknown name is not recorded: it is the caller's
        # raw input, and a user who types a code or password into the name field must not
        # find it in the trail.
        self._context.emit(
            "verify",
            result.outcome.value,
            tenant=principal.tenant,
            caller=principal.client,
            target=record.name if record else "-",
            offset=offset,
        )
        return result

    # --- helpers ---------------------------------------------------------------------------
    def _require_new_name(self, principal: Principal, spec: CredentialSpec) -> None:
        """The checks before a credential is created: scope, tenant, seal, a free name."""
        access.require(principal, Scope.WRITE)
        access.require_credential_tenant(principal)
        require_unsealed(self._sealer)
        if self._store.get_credential(principal.tenant, spec.name) is not None:
            raise AlreadyExists("name taken")

    def _get_unsealed(self, tenant: str, name: str) -> CredentialRecord:
        require_unsealed(self._sealer)
        record = self._store.get_credential(tenant, name)
        if record is None:
            raise NotFound("no such credential")
        return record

    def _holds_secret(self, record: CredentialRecord, secret: SecretBytes) -> bool:
        try:
            return open_record_secret(self._sealer, record) == secret
        except SecretCorrupted:  # replacing is how a corrupted row gets repaired
            return False

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
