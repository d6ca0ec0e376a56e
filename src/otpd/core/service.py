"""CredentialService: the only thing API adapters and the CLI call.

It reads the clock, loads and unseals secrets, asks `core.policy`, runs `core.otp`, and commits
through the store's atomic methods. The rule "a code is accepted once" lives here and in
`CredentialStore.advance`, so it holds for every API alike (R25).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Iterable
from dataclasses import replace

from otpd.core import access, tenants
from otpd.core.codes import code_text
from otpd.core.enrolment import Enrolment, credential_for_ticket, enrol
from otpd.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    Sealed,
    SecretCorrupted,
    Unauthenticated,
)
from otpd.core.model import (
    SYSTEM_TENANT,
    TENANT_ID,
    ApiClient,
    CredentialRecord,
    CredentialSpec,
    OtpParams,
    Outcome,
    PhenixAuth,
    Principal,
    Scope,
    SealStatus,
    SecretBytes,
    Tenant,
    VerifyResult,
    validate_secret,
    validate_tenant_id,
)
from otpd.core.otp import totp
from otpd.core.policy import ThrottlePolicy, evaluate_code, is_throttled
from otpd.core.ports import Clock, CredentialStore, Sealer
from otpd.core.provisioning import build_uri
from otpd.core.tokens import (
    IssuedToken,
    TokenPolicy,
    new_token_record,
    principal_for_token,
    renewed_expiry,
)

__all__ = ["CredentialService"]

_DUMMY_SECRET = bytes(20)

# R61: every attempt with its true outcome (the APIs answer without an oracle, R35). Never the
# submitted code or any secret (R12); names are validated to a safe alphabet before storage.
audit_log = logging.getLogger("otpd.audit")


class CredentialService:
    def __init__(
        self,
        store: CredentialStore,
        sealer: Sealer,
        clock: Clock,
        *,
        throttle: ThrottlePolicy | None = None,
        label_prefix: str = "Sbox",
        tokens: TokenPolicy | None = None,
        random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    ) -> None:
        self.store = store
        self.sealer = sealer
        self.clock = clock
        self.throttle = throttle or ThrottlePolicy()
        self.label_prefix = label_prefix
        self.tokens = tokens or TokenPolicy()
        self._dummy_blob: bytes | None = None
        self._random_bytes = random_bytes

    # --- time ----------------------------------------------------------------------------
    def now(self) -> int:
        return self.clock.now_us() // 1_000_000

    # --- administration (CLI; no principal: whoever can read the data directory is root) --
    def create_tenant(self, tenant_id: str, phenixid_auth: PhenixAuth = PhenixAuth.BASIC) -> Tenant:
        tenant = Tenant(id=tenant_id, phenixid_auth=phenixid_auth, created_at=self.now())
        self.store.create_tenant(tenant)
        return tenant

    def ensure_tenant(self, tenant_id: str) -> Tenant:
        existing = self.store.get_tenant(validate_tenant_id(tenant_id))
        if existing is not None:
            return existing
        try:
            return self.create_tenant(tenant_id)
        except AlreadyExists:  # created by someone else meanwhile
            tenant = self.store.get_tenant(tenant_id)
            assert tenant is not None
            return tenant

    def get_tenant(self, tenant_id: str) -> Tenant:
        tenant = self.store.get_tenant(tenant_id)
        if tenant is None:
            raise NotFound("no such tenant")
        return tenant

    def update_tenant(self, tenant: Tenant) -> None:
        self.store.update_tenant(tenant)

    def create_client(
        self, tenant_id: str, name: str, scopes: Iterable[Scope]
    ) -> tuple[ApiClient, str]:
        """Create an API client (and its tenant if new). Returns the key, shown once."""
        scope_set = frozenset(scopes)
        if not scope_set:
            raise InvalidInput("scopes", "must name at least one scope")
        if tenant_id == SYSTEM_TENANT and scope_set - {Scope.SEAL}:
            raise InvalidInput("scopes", f"clients of {SYSTEM_TENANT!r} may only have scope seal")
        key = access.new_key()
        client = ApiClient(
            tenant=tenant_id,
            name=name,
            scopes=scope_set,
            key_hash=access.hash_key(key),
            created_at=self.now(),
        )
        self.ensure_tenant(tenant_id)
        self.store.create_client(client)
        return client, key

    # --- authentication ------------------------------------------------------------------
    def authenticate(self, key: str) -> Principal:
        """API key -> principal. Raises Unauthenticated for any wrong key (one answer)."""
        if not isinstance(key, str) or len(key) != access.KEY_LENGTH:
            raise Unauthenticated("bad key")
        client = self.store.find_client_by_key_hash(access.hash_key(key))
        if client is None:
            raise Unauthenticated("bad key")
        return Principal(tenant=client.tenant, client=client.name, scopes=client.scopes)

    def authenticate_basic(self, name: object, key: object) -> Principal:
        """HTTP Basic `<client name>:<key>` (PhenixID). A wrong name, key or either missing all
        give the same Unauthenticated."""
        if not isinstance(name, str) or not isinstance(key, str):
            raise Unauthenticated("bad basic credentials")
        principal = self.authenticate(key)
        if not hmac.compare_digest(principal.client.encode(), name.encode("utf-8", "replace")):
            raise Unauthenticated("bad basic credentials")
        return principal

    def admit_caller(self, tenant_id: str, caller: tenants.Caller, operation: str) -> Principal:
        """A PhenixID caller of `operation` in the tenant named by its header: the tenant's
        settings decide (core.tenants.admit); the principal has scope verify there only."""
        known = isinstance(tenant_id, str) and TENANT_ID.fullmatch(tenant_id) is not None
        tenant = self.store.get_tenant(tenant_id) if known else None
        try:
            return tenants.admit(tenant, caller, operation, self.authenticate_basic)
        except (Forbidden, Unauthenticated) as error:  # R61: the true reason, not the answer
            audit_log.info("admit tenant=%s refused=%s", tenant.id if tenant else "-", error)
            raise

    # --- bearer tokens (Strongbox) -------------------------------------------------------
    def login(self, name: object, key: object, tenant: object = None) -> IssuedToken:
        """Client name + key (+ optional tenant) -> a bearer token. Wrong name, key or tenant
        all give the same Unauthenticated (NOTES.md §7)."""
        if not isinstance(name, str) or not isinstance(key, str):
            raise Unauthenticated("bad login")
        principal = self.authenticate(key)
        same_name = hmac.compare_digest(principal.client.encode(), name.encode("utf-8", "replace"))
        if not same_name or tenant not in (None, principal.tenant):
            raise Unauthenticated("bad login")
        issued = new_token_record(principal, self.clock.now_us(), self.tokens)
        self.store.insert_token(issued.record)
        return issued

    def authenticate_token(self, token: str) -> Principal:
        return principal_for_token(self.store, token, self.clock.now_us())[0]

    def refresh_token(self, token: str, increment_s: int | None = None) -> IssuedToken:
        now_us = self.clock.now_us()
        _, record = principal_for_token(self.store, token, now_us)
        expires = renewed_expiry(record, now_us, increment_s, self.tokens)
        if not self.store.renew_token(record.token_hash, now_us, expires):
            raise Unauthenticated("bad token")
        return IssuedToken(token, replace(record, renewed_at_us=now_us, expires_at_us=expires))

    # --- credentials ---------------------------------------------------------------------
    def create_credential(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> tuple[CredentialRecord, SecretBytes]:
        """Enrol a credential; returns it and its secret (the only time the secret leaves)."""
        access.require(principal, Scope.WRITE)
        self._writable_tenant(principal)
        self._require_unsealed()
        if self.store.get_credential(principal.tenant, spec.name) is not None:
            raise AlreadyExists("name taken")
        secret, key_size = self._secret_for(spec, secret)
        credential_id = self.store.allocate_credential_id()
        record = CredentialRecord(
            id=credential_id,
            tenant=principal.tenant,
            name=spec.name,
            params=spec.params,
            key_size=key_size,
            issuer=spec.issuer,
            account_name=spec.account_name,
            email=spec.email,
            phone=spec.phone,
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
        access.require(principal, Scope.WRITE)
        self._writable_tenant(principal)
        self._require_unsealed()
        if self.store.get_credential(principal.tenant, spec.name) is not None:
            raise AlreadyExists("name taken")
        if secret is not None:
            validate_secret(secret, "passcode32")

    def check_replace(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> None:
        access.require(principal, Scope.WRITE)
        self._require_unsealed()
        self._get(principal.tenant, spec.name)
        if secret is not None:
            validate_secret(secret, "passcode32")

    def get_credential_for_update(self, principal: Principal, name: str) -> CredentialRecord:
        """Read a credential in order to change it: scope write, not read."""
        access.require(principal, Scope.WRITE)
        self._require_unsealed()
        return self._get(principal.tenant, name)

    def replace_credential(
        self, principal: Principal, spec: CredentialSpec, secret: SecretBytes | None = None
    ) -> CredentialRecord:
        """Replace an existing credential's settings (and its secret when one is given or the
        key size changes). The id and creation time stay. Replay and failure state reset only
        when the secret or the period changes: with the same secret and steps, a consumed
        code must stay consumed (R18)."""
        access.require(principal, Scope.WRITE)
        self._require_unsealed()
        current = self._get(principal.tenant, spec.name)
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
        record = replace(
            current,
            params=spec.params,
            key_size=key_size,
            issuer=spec.issuer,
            account_name=spec.account_name,
            email=spec.email,
            phone=spec.phone,
            sealed_secret=sealed,
        )
        reset = not same_secret or spec.params.period != current.params.period
        if not self.store.replace_credential(record, reset_state=reset):
            raise NotFound("no such credential")
        return record

    def get_credential(self, principal: Principal, name: str) -> CredentialRecord:
        access.require(principal, Scope.READ)
        self._require_unsealed()
        return self._get(principal.tenant, name)

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

    def delete_credential(self, principal: Principal, name: str) -> None:
        access.require(principal, Scope.WRITE)
        self._require_unsealed()
        if not self.store.delete_credential(principal.tenant, name):
            raise NotFound("no such credential")

    def reveal_secret(self, principal: Principal, name: str) -> SecretBytes:
        access.require(principal, Scope.REVEAL)
        record = self._get_unsealed(principal.tenant, name)
        return self._open(record)

    def key_uri(self, principal: Principal, name: str) -> str:
        """The otpauth:// URI (it carries the secret, so it needs scope reveal)."""
        access.require(principal, Scope.REVEAL)
        record = self._get_unsealed(principal.tenant, name)
        return self.uri_for(record, self._open(record))

    def uri_for(self, record: CredentialRecord, secret: SecretBytes) -> str:
        prefix = record.issuer if self.label_prefix == "issuer" else self.label_prefix
        return build_uri(
            secret=secret,
            label_prefix=prefix,
            account_name=record.account_name,
            issuer=record.issuer,
            params=record.params,
        )

    def current_code(self, principal: Principal, name: str) -> str:
        """A valid code for now (scope code: it makes valid codes)."""
        access.require(principal, Scope.CODE)
        record = self._get_unsealed(principal.tenant, name)
        params = record.params
        return totp(
            self._open(record).reveal(), self.now(), params.period, params.digits, params.algorithm
        )

    # --- verification --------------------------------------------------------------------
    def verify(
        self, principal: Principal, name: str, code: object, *, missing_is_error: bool = False
    ) -> VerifyResult:
        """Verify `code` for the credential `name`. An unknown name is REJECTED like a wrong
        code (R35), or NotFound when the API may say so (Strongbox verify-code: 404)."""
        access.require(principal, Scope.VERIFY)
        self._require_unsealed()
        record = self.store.get_credential(principal.tenant, name)
        if record is None and missing_is_error:
            raise NotFound("no such credential")
        return self._verify_record(principal.tenant, record, code)

    def verify_by_id(self, principal: Principal, credential_id: int, code: object) -> VerifyResult:
        access.require(principal, Scope.VERIFY)
        self._require_unsealed()
        record = self.store.get_credential_by_id(principal.tenant, credential_id)
        return self._verify_record(principal.tenant, record, code)

    def _verify_record(
        self, tenant: str, record: CredentialRecord | None, code: object
    ) -> VerifyResult:
        result = self._evaluate(tenant, record, code)
        audit_log.info(
            "verify tenant=%s credential=%s outcome=%s",
            tenant,
            record.id if record else "unknown",
            result.outcome.value,
        )
        return result

    def _evaluate(self, tenant: str, record: CredentialRecord | None, code: object) -> VerifyResult:
        """Unknown credentials are REJECTED after the same work as a wrong code: an unseal,
        the window's HMACs and one write (R35, R37; bench/verify_throughput.py measured an
        unknown name 100x faster than a wrong code before the write was added)."""
        now = self.now()
        if record is None:
            self._open_dummy()
            evaluate_code(_DUMMY_SECRET, OtpParams(), code_text(code, 6), now, -1)
            self.store.record_unknown_attempt(tenant)
            return VerifyResult(Outcome.REJECTED)
        if is_throttled(record.throttle, now):
            # NOTES.md §7: not evaluated, and not counted, so a flood cannot extend the wait.
            return VerifyResult(Outcome.THROTTLED)
        secret = self._open(record)
        params = record.params  # a NumericCode is zero-padded to these digits (core.codes)
        text = code_text(code, params.digits)
        outcome, step = evaluate_code(secret.reveal(), params, text, now, record.last_step)
        if outcome is Outcome.ACCEPTED and step is not None:
            if self.store.advance(record.id, step):
                return VerifyResult(Outcome.ACCEPTED, step)
            outcome = Outcome.REPLAYED  # another request consumed this step first
        counted = self.store.record_failure(
            record.id, now, lambda failures: self.throttle.after_failure(failures, now)
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
        record = credential_for_ticket(self.store, ticket, self.clock.now_us())
        return self.uri_for(record, self._open(record))

    # --- sealing (NOTES.md §4): shares are the authority, so unsealing needs no principal ---
    def seal_status(self) -> SealStatus:
        return self.sealer.status()

    def submit_unseal_share(self, share: str) -> SealStatus:
        return self.sealer.submit_share(share)

    def reset_unseal(self) -> SealStatus:
        return self.sealer.reset_progress()

    def seal(self, principal: Principal) -> SealStatus:
        access.require(principal, Scope.SEAL)
        self.sealer.seal()
        return self.sealer.status()

    # --- helpers -------------------------------------------------------------------------
    def _writable_tenant(self, principal: Principal) -> None:
        if principal.tenant == SYSTEM_TENANT:
            raise Forbidden("the system tenant holds no credentials")

    def _require_unsealed(self) -> None:
        if self.sealer.is_sealed():
            raise Sealed()

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
            validate_secret(secret, "passcode32")
            return secret, len(secret)  # an imported secret's length overrides key-size
        size = spec.effective_key_size
        return SecretBytes(self._random_bytes(size)), size
