"""Who may call a tenant's PhenixID operations: the tenant's settings decide (docs/api-phenixid.md).

PhenixID names the tenant in a request header, and each tenant chooses how its callers prove
who they are:

  basic        an API client of this tenant with scope verify (HTTP Basic `<name>:<key>`)
  client-cert  a verified TLS client certificate whose subject is on the tenant's allow-list
               (native TLS, or a trusted reverse proxy's header)
  none         nobody is checked; an operator must choose it explicitly

`admit` is a pure function of the tenant, what the adapter learned about the caller, and the
operation. Whatever the mode, the principal it returns has scope verify for that one tenant
and nothing else (least privilege, docs/requirements.md#tenancy,
docs/requirements.md#least-privilege), so the adapter can only verify codes there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from otpd.core import access
from otpd.core.errors import Forbidden, InvalidInput, Unauthenticated
from otpd.core.model import SYSTEM_TENANT, PhenixAuth, Principal, Scope, Tenant

__all__ = ["OPERATIONS", "Caller", "admit", "validate_operations", "validate_subjects"]

# The operations otpd implements (`PUT /api/authentication/<operation>`). A tenant's
# allowedOperation may only name these: anything else would be a typo that allows nothing.
OPERATIONS = ("otp_token_auth",)
MAX_SUBJECTS = 1000
MAX_SUBJECT_LENGTH = 4096

BasicAuthenticator = Callable[[str, str], Principal]


@dataclass(frozen=True)
class Caller:
    """What the adapter read from the request, before anything is trusted.

    `basic` is the `(name, key)` of a well-formed `Authorization: Basic` header (None when it
    is missing or malformed: both are "no Basic credentials"). `cert_subject` is the canonical
    subject of a client certificate that was verified by our TLS stack or by a trusted proxy
    (None when there is none)."""

    basic: tuple[str, str] | None = None
    cert_subject: str | None = None

    # the key never reaches a log line (docs/requirements.md#no-secret-leaves)
    def __repr__(self) -> str:
        name = self.basic[0] if self.basic else None
        return f"Caller(basic_name={name!r}, cert_subject={self.cert_subject!r})"


def admit(
    tenant: Tenant | None,
    caller: Caller,
    operation: str,
    authenticate_basic: BasicAuthenticator,
) -> Principal:
    """The caller's principal for `operation` of `tenant`, or:

    - Unauthenticated: the tenant requires Basic and it is missing or wrong, or the client
      belongs to another tenant (docs/api-phenixid.md) -> PhenixID 401;
    - Forbidden: unknown tenant, the `system` tenant, a client without scope verify, no or an
      unlisted certificate subject, an operation the tenant does not allow -> PhenixID 403.
    """
    if tenant is None or tenant.id == SYSTEM_TENANT:
        raise Forbidden("unknown tenant")
    client = _authenticate(tenant, caller, authenticate_basic)
    if operation not in tenant.allowed_operations or operation not in OPERATIONS:
        raise Forbidden("operation not allowed for this tenant")
    return Principal(tenant=tenant.id, client=client, scopes=frozenset({Scope.VERIFY}))


def _authenticate(tenant: Tenant, caller: Caller, authenticate_basic: BasicAuthenticator) -> str:
    """The caller's name for the audit trail, once the tenant's mode is satisfied."""
    mode = tenant.phenixid_auth
    if mode is PhenixAuth.BASIC:
        if caller.basic is None:
            raise Unauthenticated("basic authentication required")
        principal = authenticate_basic(*caller.basic)
        if principal.tenant != tenant.id:
            raise Unauthenticated("client of another tenant")
        access.require(principal, Scope.VERIFY)
        return principal.client
    if mode is PhenixAuth.CLIENT_CERT:
        subject = caller.cert_subject
        if subject is None or subject not in tenant.client_cert_subjects:
            raise Forbidden("client certificate missing or not allowed")
        return "client-cert"
    if mode is PhenixAuth.NONE:
        return "anonymous"
    raise Forbidden("unknown authentication mode")  # pragma: no cover (exhaustive enum)


def validate_operations(operations: Iterable[str]) -> tuple[str, ...]:
    """A tenant's allowedOperation: known operations, each once, in the given order."""
    result: list[str] = []
    for operation in operations:
        if operation not in OPERATIONS:
            raise InvalidInput("allowed-operation", "must be one of " + ", ".join(OPERATIONS))
        if operation not in result:
            result.append(operation)
    return tuple(result)


def validate_subjects(subjects: Iterable[str]) -> tuple[str, ...]:
    """A tenant's subject allow-list, already in canonical form (see otpd.subjects)."""
    result: list[str] = []
    for subject in subjects:
        if not isinstance(subject, str) or not 0 < len(subject) <= MAX_SUBJECT_LENGTH:
            raise InvalidInput("client-cert-subject", "must be a distinguished name")
        if subject not in result:
            result.append(subject)
    if len(result) > MAX_SUBJECTS:
        raise InvalidInput("client-cert-subject", f"at most {MAX_SUBJECTS} subjects")
    return tuple(result)
