"""The domain model: frozen dataclasses and enums, validated on construction.

docs/requirements.md#model defines tenants, API clients, scopes and credentials; §3 the parameter
ranges.
"""

from __future__ import annotations

import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum

from otpd.core.errors import InvalidInput

__all__ = [
    "CREDENTIAL_STATES",
    "DEFAULT_KEY_SIZE",
    "MAX_SKEW",
    "SYSTEM_TENANT",
    "Algorithm",
    "ApiClient",
    "CredentialRecord",
    "CredentialSpec",
    "OtpParams",
    "Outcome",
    "PhenixAuth",
    "Principal",
    "Scope",
    "SealStatus",
    "SecretBytes",
    "Tenant",
    "ThrottleState",
    "TokenRecord",
    "VerifyResult",
    "has_control_characters",
    "validate_credential_name",
    "validate_tenant_id",
]

TENANT_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
CREDENTIAL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")
# reserved: holds the `seal` clients and no credentials (docs/requirements.md#least-privilege)
SYSTEM_TENANT = "system"
# the window has a hard upper bound, checked when a credential is written
# (docs/requirements.md#window)
MAX_SKEW = 10
# 80-bit secrets are common in the wild (docs/requirements.md#secret-strength)
MIN_SECRET_BYTES = 10
MAX_SECRET_BYTES = 1024
# issue #16: `pending` until a self-service enrolment is confirmed, `disabled` by an admin.
CREDENTIAL_STATES = ("active", "disabled", "pending")
MAX_PERIOD = 86400  # a day: a longer "time-based" code is a static password


class Algorithm(StrEnum):
    SHA1 = "sha1"
    SHA224 = "sha224"
    SHA256 = "sha256"
    SHA384 = "sha384"
    SHA512 = "sha512"


# Strongbox `key-size` defaults, also RFC 6238 §5.1's "length of the HMAC output" advice.
DEFAULT_KEY_SIZE = {
    Algorithm.SHA1: 20,
    Algorithm.SHA224: 32,
    Algorithm.SHA256: 32,
    Algorithm.SHA384: 64,
    Algorithm.SHA512: 64,
}


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    VERIFY = "verify"
    CODE = "code"
    REVEAL = "reveal"
    SEAL = "seal"


class PhenixAuth(StrEnum):
    BASIC = "basic"
    CLIENT_CERT = "client-cert"
    NONE = "none"


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    REPLAYED = "replayed"
    THROTTLED = "throttled"
    UNKNOWN = (
        "unknown"  # no such credential: the same work as a wrong code (requirements.md#equal-work)
    )


def validate_issuer(value: str) -> str:
    """A tenant's issuer (issue #13): shown as the authenticator app's account heading, so
    printable, at most 64 characters, and no ':' (the otpauth label's separator)."""
    if not value or len(value) > 64 or not value.isprintable() or ":" in value:
        raise InvalidInput("issuer", "must be 1-64 printable characters without ':'")
    return value


def validate_tenant_id(value: str, field_name: str = "tenant") -> str:
    if not isinstance(value, str) or not TENANT_ID.fullmatch(value):
        raise InvalidInput(field_name, "must match [a-z0-9][a-z0-9-]{0,62}")
    return value


# Unicode general categories never shown as themselves in a label: controls (Cc), format
# characters (Cf: bidirectional overrides and isolates, zero-width spaces and joiners, the BOM),
# lone surrogates (Cs) and line/paragraph separators (Zl, Zp). A format character lets an
# issuer or account name render as another one in an authenticator app (Unicode TR #36 §2.1).
_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def has_control_characters(text: str) -> bool:
    """Controls, format (bidi, zero-width), surrogate or separator characters: never part of a
    label or an address."""
    return any(unicodedata.category(c) in _INVISIBLE for c in text)


def validate_credential_name(value: str, field_name: str = "name") -> str:
    if not isinstance(value, str) or not CREDENTIAL_NAME.fullmatch(value):
        raise InvalidInput(
            field_name, "must be 1-128 characters [A-Za-z0-9._@+-], not starting with a symbol"
        )
    return value


class SecretBytes:
    """A secret with a masked repr, so no log line or traceback can print it; `.reveal()` is
    the only way to the bytes (docs/requirements.md#no-secret-leaves)."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        self._value = bytes(value)

    def reveal(self) -> bytes:
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __repr__(self) -> str:
        return "SecretBytes(***)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretBytes) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(len(self._value))


@dataclass(frozen=True)
class OtpParams:
    algorithm: Algorithm = Algorithm.SHA1
    digits: int = 6
    period: int = 30
    skew: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.algorithm, Algorithm):
            raise InvalidInput("algorithm", "must be one of sha1, sha224, sha256, sha384, sha512")
        if type(self.digits) is not int or not 6 <= self.digits <= 10:
            raise InvalidInput("digits", "must be an integer from 6 to 10")
        if type(self.period) is not int or not 1 <= self.period <= MAX_PERIOD:
            raise InvalidInput("period", "must be from 1 second to 1 day")
        if type(self.skew) is not int or not 0 <= self.skew <= MAX_SKEW:
            raise InvalidInput("skew", f"must be an integer from 0 to {MAX_SKEW}")


def validate_secret(secret: SecretBytes, field_name: str = "secret") -> None:
    if not MIN_SECRET_BYTES <= len(secret) <= MAX_SECRET_BYTES:
        raise InvalidInput(
            field_name, f"must decode to {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes"
        )


@dataclass(frozen=True)
class Tenant:
    id: str
    phenixid_auth: PhenixAuth = PhenixAuth.BASIC
    allowed_operations: tuple[str, ...] = ("otp_token_auth",)
    client_cert_subjects: tuple[str, ...] = ()
    created_at: int = 0
    # The QR label prefix and issuer of this tenant's credentials (issue #13): a Token2 or
    # PhenixID user's app shows the company, not the Strongbox default "Sbox".
    issuer: str | None = None

    def __post_init__(self) -> None:
        validate_tenant_id(self.id)


@dataclass(frozen=True)
class ApiClient:
    tenant: str
    name: str
    scopes: frozenset[Scope]
    key_hash: str  # SHA-256 hex of the key; the key itself is shown once and never stored
    created_at: int = 0
    # After `otpd client rotate`: the key before, live until its grace ends (one at a time;
    # docs/operations.md#api-clients-list-rotate-revoke). None when there is none.
    previous_key_hash: str | None = None
    previous_key_expires_at_us: int = 0
    last_used_at_us: int = 0  # coarse: written at most about once a minute (0: never used)

    def __post_init__(self) -> None:
        validate_tenant_id(self.tenant)
        validate_tenant_id(self.name, "name")
        if Scope.SEAL in self.scopes and self.tenant != SYSTEM_TENANT:
            raise InvalidInput(
                "scopes", f"seal is only for clients of the tenant {SYSTEM_TENANT!r}"
            )


@dataclass(frozen=True)
class Principal:
    """Who is calling: an authenticated API client, as the service sees it."""

    tenant: str
    client: str
    scopes: frozenset[Scope]


@dataclass(frozen=True)
class CredentialSpec:
    """What a caller asks for when creating or replacing a credential."""

    name: str
    params: OtpParams = field(default_factory=OtpParams)
    key_size: int | None = None  # None: the algorithm's default
    issuer: str = "unknown"
    account_name: str = "unknown"
    email: str | None = None
    phone: str | None = None

    def __post_init__(self) -> None:
        validate_credential_name(self.name)
        for label, value in (("issuer", self.issuer), ("account-name", self.account_name)):
            if not isinstance(value, str) or not 1 <= len(value) <= 256:
                raise InvalidInput(label, "must be a string of 1-256 characters")
            if ":" in value:
                raise InvalidInput(label, "may not contain a colon")
            if value != value.strip():
                # The Key Uri Format lets apps drop spaces before the account name.
                raise InvalidInput(label, "may not start or end with whitespace")
            if has_control_characters(value):
                raise InvalidInput(
                    label, "may not contain control, format (bidi, zero-width) characters"
                )
        if self.key_size is not None and (
            type(self.key_size) is not int
            or not MIN_SECRET_BYTES <= self.key_size <= MAX_SECRET_BYTES
        ):
            raise InvalidInput("key-size", f"must be from {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES}")

    @property
    def effective_key_size(self) -> int:
        return self.key_size or DEFAULT_KEY_SIZE[self.params.algorithm]


@dataclass(frozen=True)
class ThrottleState:
    """Consecutive failures and the wait they impose (core.policy decides both).

    `since` is when the wait was set; a clock that later reads earlier than `since` has gone
    back, and a backoff is then lifted rather than stretched by the jump. A spent guess budget
    (a lock) has since = 0: a clock going back never lifts it.
    """

    failures: int = 0
    not_before: int = 0  # Unix seconds before which no attempt is evaluated
    since: int = 0


@dataclass(frozen=True)
class CredentialRecord:
    """A stored credential. `sealed_secret` is ciphertext; the plaintext never sits here."""

    id: int
    tenant: str
    name: str
    params: OtpParams
    key_size: int
    issuer: str
    account_name: str
    email: str | None
    phone: str | None
    created_at_us: int
    sealed_secret: bytes
    last_step: int = -1
    throttle: ThrottleState = field(default_factory=ThrottleState)
    version: int = 1  # bumped by every replace; verification state does not count
    refused: int = 0  # attempts refused unevaluated while throttled or locked (never reset)
    state: str = "active"  # CREDENTIAL_STATES; only an active credential accepts a code

    @classmethod
    def from_spec(
        cls,
        spec: CredentialSpec,
        *,
        credential_id: int,
        tenant: str,
        key_size: int,
        created_at_us: int,
        sealed_secret: bytes,
    ) -> CredentialRecord:
        """A new record with the settings of `spec` (and fresh replay and failure state)."""
        return cls(
            id=credential_id,
            tenant=tenant,
            name=spec.name,
            params=spec.params,
            key_size=key_size,
            issuer=spec.issuer,
            account_name=spec.account_name,
            email=spec.email,
            phone=spec.phone,
            created_at_us=created_at_us,
            sealed_secret=sealed_secret,
        )


@dataclass(frozen=True)
class TokenRecord:
    """A Strongbox bearer token. Only its SHA-256 is stored; the token is shown once."""

    token_hash: str
    accessor: str
    tenant: str
    client: str
    created_at_us: int
    renewed_at_us: int
    expires_at_us: int
    # SHA-256 of the API key that logged in: the token lives no longer than that key does
    # (a rotated-out key's tokens die with it when its grace ends).
    client_key_hash: str = ""


@dataclass(frozen=True)
class SealStatus:
    sealed: bool
    progress: int  # unseal shares given so far (0 when unsealed or in embedded mode)
    threshold: int  # shares needed (0 in embedded mode)
    mode: str  # "embedded" | "shamir"
    # The ceremony nonce (Shamir, while shares are pending): a reset must carry it, so only
    # someone who gave a share can discard the others' progress (docs/security.md).
    nonce: str = field(default="", repr=False, compare=False)


@dataclass(frozen=True)
class VerifyResult:
    outcome: Outcome
    matched_step: int | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED
