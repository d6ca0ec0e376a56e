"""The console's one door into otpd's services (issue #16). Every page calls these functions, each
inside its request's single worker hop; nothing else in otpd.console touches the runtime, so
re-pointing the console at new services is a change to this module alone."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from otpd.console import auth
from otpd.core.access import parse_grace
from otpd.core.console import (
    PAGE_SIZE,
    AdminAccount,
    ConsoleSession,
    CredentialPage,
    admin_credential_name,
    validate_admin_name,
)
from otpd.core.enrolment import TICKET_BYTES, credential_for_ticket, new_ticket
from otpd.core.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from otpd.core.model import (
    SYSTEM_TENANT,
    ApiClient,
    CredentialRecord,
    CredentialSpec,
    Principal,
    Scope,
    SealStatus,
    SecretBytes,
    Tenant,
    validate_credential_name,
    validate_tenant_id,
)
from otpd.core.ports import ConsoleStore
from otpd.core.provisioning import build_uri

if TYPE_CHECKING:
    from starlette.requests import Request

    from otpd.bootstrap import Runtime

__all__ = ["Admin", "Enrolling", "NotFound", "runtime_of"]

_ALL_SCOPES = frozenset(Scope) - {Scope.SEAL}


@dataclass(frozen=True)
class Admin:
    """A signed-in admin, as one request sees it."""

    account: AdminAccount
    session: ConsoleSession

    def tenant(self, tenant_id: str) -> Principal:
        """A principal for `tenant_id`, or Forbidden (403) when this admin may not see it."""
        validate_tenant_id(tenant_id)
        if not self.account.sees(tenant_id):
            raise Forbidden("not an admin of this tenant")
        return Principal(tenant=tenant_id, client="console", scopes=_ALL_SCOPES)


@dataclass(frozen=True)
class Enrolling:
    record: CredentialRecord
    uri: str  # carries the secret: shown on the enrolment page only
    key: str  # the Base32 secret for manual entry


def runtime_of(request: Request) -> Runtime:
    """The one accessor from a request to the runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _store(runtime: Runtime) -> ConsoleStore:
    return cast(ConsoleStore, runtime.store)


# --- admins and sessions --------------------------------------------------------------------
def create_admin(runtime: Runtime, name: str, tenant: str | None, password: str) -> str:
    """Create an admin and its TOTP credential; returns the otpauth URI (shown once)."""
    validate_admin_name(name)
    if tenant is not None:
        runtime.access.get_tenant(validate_tenant_id(tenant))
    if len(password) < 12:
        raise InvalidInput("password", "must be at least 12 characters")
    store = _store(runtime)
    if store.get_admin(name) is not None:
        raise InvalidInput("name", "an admin with this name exists")
    runtime.access.ensure_tenant(SYSTEM_TENANT)
    spec = CredentialSpec(
        name=admin_credential_name(name), issuer="otpd console", account_name=name
    )
    secret = SecretBytes(secrets.token_bytes(spec.effective_key_size))
    credential_id = runtime.store.allocate_credential_id()
    record = CredentialRecord.from_spec(
        spec,
        credential_id=credential_id,
        tenant=SYSTEM_TENANT,
        key_size=len(secret),
        created_at_us=runtime.context.now_us(),
        sealed_secret=runtime.sealer.seal_secret(
            secret, tenant=SYSTEM_TENANT, credential_id=credential_id
        ),
    )
    runtime.store.insert_credential(
        record
    )  # CredentialService refuses the system tenant, on purpose
    store.insert_admin(
        AdminAccount(name, tenant, auth.hash_password(password), spec.name, runtime.context.now())
    )
    return build_uri(
        secret=secret,
        label_prefix=spec.issuer,
        account_name=name,
        issuer=spec.issuer,
        params=spec.params,
    )


def sign_in(runtime: Runtime, name: str, password: str, code: str) -> str | None:
    """Password, then the admin's TOTP code through the core's own verification (replay and
    throttle rules included). Returns a fresh session cookie, or None. A wrong password counts
    as a failed code on the admin's credential, so guessing passwords is throttled too."""
    store = _store(runtime)
    account = store.get_admin(name) if len(name) <= 64 else None
    password_ok = auth.check_password(account.password_hash if account else None, password)
    system = Principal(SYSTEM_TENANT, "console", frozenset({Scope.VERIFY}))
    credential = account.credential if account else admin_credential_name("-")
    result = runtime.credentials.verify(system, credential, code if password_ok else "")
    if account is None or not password_ok or not result.accepted:
        return None
    cookie = auth.new_cookie()  # always new: a cookie planted before sign-in is never adopted
    now = runtime.context.now_us()
    session = ConsoleSession(auth.hash_cookie(cookie), account.name, auth.new_csrf(), now, now)
    store.insert_session(session)
    store.delete_sessions_older_than(now - auth.IDLE_TIMEOUT_US)  # keeps the table small
    return cookie


def admin_for(runtime: Runtime, cookie: str | None) -> Admin:
    """The signed-in admin behind a session cookie, or Unauthenticated."""
    if not cookie or len(cookie) > 128:
        raise Unauthenticated("not signed in")
    store = _store(runtime)
    now = runtime.context.now_us()
    session = store.touch_session(
        auth.hash_cookie(cookie), now, auth.IDLE_TIMEOUT_US, auth.ABSOLUTE_TIMEOUT_US
    )
    account = store.get_admin(session.admin) if session else None
    if session is None or account is None:
        raise Unauthenticated("not signed in")
    return Admin(account, session)


def sign_out(runtime: Runtime, cookie: str | None) -> None:
    if cookie:
        _store(runtime).delete_session(auth.hash_cookie(cookie))


# --- tenants and credentials ----------------------------------------------------------------
def tenants(runtime: Runtime, admin: Admin) -> list[tuple[Tenant, int]]:
    return [
        (t, runtime.store.count_credentials(t.id))
        for t in runtime.store.list_tenants()
        if t.id != SYSTEM_TENANT and admin.account.sees(t.id)
    ]


def search(runtime: Runtime, admin: Admin, tenant: str, prefix: str, after: str) -> CredentialPage:
    admin.tenant(tenant)
    return _store(runtime).search_credentials(tenant, prefix, after, PAGE_SIZE)


def credential(runtime: Runtime, admin: Admin, tenant: str, name: str) -> CredentialRecord:
    return runtime.credentials.get_credential(admin.tenant(tenant), name)


def act_on_credential(runtime: Runtime, admin: Admin, tenant: str, name: str, action: str) -> str:
    """disable, enable, reset (the throttle) or delete; returns what happened, for the page."""
    principal = admin.tenant(tenant)
    runtime.credentials.get_credential(principal, name)  # NotFound, and the seal check
    if action in ("disable", "enable"):
        state = "disabled" if action == "disable" else "active"
        _store(runtime).set_credential_state(tenant, name, state)
        return f"{name} is now {state}"
    if action == "reset":
        runtime.credentials.reset_credential(tenant, name)
        return f"the throttle of {name} is reset"
    if action == "delete":
        runtime.credentials.delete_credential(principal, name)
        return f"{name} is deleted"
    raise InvalidInput("action", "must be disable, enable, reset or delete")


def issue_link(runtime: Runtime, admin: Admin, tenant: str, name: str) -> str:
    """A one-time enrolment link's ticket for `name`: a new pending credential, or (re-enrol)
    the existing one with a new secret, pending again. The ticket is shown once."""
    principal = admin.tenant(tenant)
    validate_credential_name(name)
    credentials = runtime.credentials
    existing = runtime.store.get_credential(tenant, name)
    if existing is None:
        record, _ = credentials.create_credential(
            principal, CredentialSpec(name=name, issuer=tenant, account_name=name)
        )
    else:  # a new secret: the old one (and any ticket for it) stops working now
        spec = CredentialSpec(
            name=name,
            params=existing.params,
            issuer=existing.issuer,
            account_name=existing.account_name,
        )
        secret = SecretBytes(secrets.token_bytes(existing.key_size))
        record = credentials.replace_credential(principal, spec, secret)
    _store(runtime).set_credential_state(tenant, name, "pending")
    ticket, stored = new_ticket(
        secrets.token_bytes(TICKET_BYTES), tenant, record.id, runtime.context.now_us()
    )
    runtime.store.insert_enrolment_ticket(stored)
    return ticket


# --- self-service enrolment (no admin: the ticket is the authority) --------------------------
def enrolling(runtime: Runtime, ticket: str) -> Enrolling:
    """What a live link for a pending credential shows; NotFound for anything else."""
    record = credential_for_ticket(runtime.store, ticket, runtime.context.now_us())
    if record.state != "pending":
        raise NotFound("no such enrolment ticket")
    secret = runtime.sealer.open_secret(
        record.sealed_secret, tenant=record.tenant, credential_id=record.id
    )
    key = base64.b32encode(secret.reveal()).decode("ascii").rstrip("=")
    return Enrolling(record, runtime.credentials.uri_for(record, secret), key)


def confirm(runtime: Runtime, ticket: str, code: str) -> bool:
    """The first code: its step is consumed, then the credential is active and the link dead."""
    record = credential_for_ticket(runtime.store, ticket, runtime.context.now_us())
    if record.state != "pending":
        raise NotFound("no such enrolment ticket")
    if not runtime.enrolment.confirm_pending(record, code).accepted:
        return False
    runtime.store.delete_enrolment_tickets(record.tenant, record.id)
    _store(runtime).set_credential_state(record.tenant, record.name, "active")
    return True


# --- API clients ----------------------------------------------------------------------------
def clients(runtime: Runtime, admin: Admin, tenant: str) -> list[ApiClient]:
    admin.tenant(tenant)
    return runtime.store.list_clients(tenant)


def create_client(runtime: Runtime, admin: Admin, tenant: str, name: str, scopes: list[str]) -> str:
    """Returns the key, shown once."""
    admin.tenant(tenant)
    try:
        chosen = [Scope(s) for s in scopes]
    except ValueError:
        raise InvalidInput("scopes", "unknown scope") from None
    if Scope.SEAL in chosen:
        raise InvalidInput("scopes", "seal clients are made with the command line")
    validate_tenant_id(name, "name")
    return runtime.access.create_client(tenant, name, chosen)[1]


def revoke_client(runtime: Runtime, admin: Admin, tenant: str, name: str) -> str:
    """Delete the client and its bearer tokens; returns what happened, for the page."""
    admin.tenant(tenant)
    runtime.access.revoke_client(tenant, name)
    return f"{name} is revoked"


def rotate_client(
    runtime: Runtime, admin: Admin, tenant: str, name: str, grace: str
) -> tuple[str, str]:
    """A new key (shown once) and what happens to the old one, for the page."""
    admin.tenant(tenant)
    grace_s = parse_grace(grace)
    key = runtime.access.rotate_client(tenant, name, grace_s)[1]
    old = (
        "The old key is refused from now on."
        if grace_s == 0
        else (f"The old key keeps working for {grace} (docs/operations.md, API clients).")
    )
    return key, old


# --- the seal -------------------------------------------------------------------------------
def seal_status(runtime: Runtime) -> SealStatus:
    return runtime.sealing.seal_status()


def seal_view(runtime: Runtime, cookie: str | None) -> tuple[Admin | None, SealStatus]:
    """The seal page: the signed-in admin if any (a sealed otpd still has its sessions)."""
    try:
        admin: Admin | None = admin_for(runtime, cookie)
    except Unauthenticated:
        admin = None
    return admin, seal_status(runtime)


def unseal(runtime: Runtime, share: str) -> SealStatus:
    """Shares are the authority (as the API's unseal): no sign-in needed, or possible."""
    return runtime.sealing.submit_unseal_share(share)


def seal(runtime: Runtime, admin: Admin) -> SealStatus:
    if admin.account.tenant is not None:
        raise Forbidden("only an admin of every tenant may seal")
    principal = Principal(SYSTEM_TENANT, "console:" + admin.account.name, frozenset({Scope.SEAL}))
    return runtime.sealing.seal(principal)
