"""The console's one door into otpd's services (issue #16). Each function runs inside its
request's single worker hop (api.common.one_hop) and makes one service call; nothing else in
otpd.console touches the runtime, which it sees through ConsoleRuntime: the services, never
the store or the sealer."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from otpd import qr
from otpd.api.common import ServiceRuntime
from otpd.console import auth
from otpd.core.access import parse_grace
from otpd.core.audit import AuditQuery
from otpd.core.console import CredentialPage, SignedIn
from otpd.core.console_service import Charts, ConsoleService
from otpd.core.errors import Forbidden, InvalidInput, Unauthenticated
from otpd.core.insights import AuditPage
from otpd.core.model import (
    SYSTEM_TENANT,
    ApiClient,
    CredentialRecord,
    Principal,
    Scope,
    SealStatus,
    Tenant,
    validate_tenant_id,
)

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["ConsoleRuntime", "Enrolling", "Refused", "runtime_of"]

_QR_SCALE = 6  # pixels a module: what the enrolment page was drawn at


class ConsoleRuntime(ServiceRuntime, Protocol):
    """What the console may reach at request time: the services, its own included."""

    @property
    def console(self) -> ConsoleService: ...


def runtime_of(request: Request) -> ConsoleRuntime:
    """The one accessor from a request to the runtime the app's lifespan built."""
    runtime: ConsoleRuntime = request.app.state.runtime
    return runtime


class Refused(Forbidden):
    """A post refused before any work: cross-site, or without the session's CSRF token."""

    def __init__(self) -> None:
        super().__init__("this request did not come from this console's own page")


@dataclass(frozen=True)
class Enrolling:
    record: CredentialRecord
    key: str  # the Base32 secret for manual entry: shown on the enrolment page only
    qr: str  # the QR code of the otpauth URI, as a data: URI (the CSP allows img data:)


# --- admins and sessions --------------------------------------------------------------------
def create_admin(runtime: ConsoleRuntime, name: str, tenant: str | None, password: str) -> str:
    """`otpd admin create`: the admin and its TOTP credential; the otpauth URI, shown once."""
    return runtime.console.create_admin(name, tenant, password, auth.PASSWORDS)


def sign_in(runtime: ConsoleRuntime, name: str, password: str, code: str) -> str | None:
    return runtime.console.sign_in(name, password, code, auth.PASSWORDS)


def signed_in(
    runtime: ConsoleRuntime, cookie: str | None, fields: dict[str, str] | None
) -> SignedIn:
    """The admin behind the session cookie; for a post (`fields`), with its CSRF token."""
    admin = runtime.console.signed_in(cookie)
    if fields is not None and not auth.tokens_match(admin.session.csrf, fields.get("csrf")):
        raise Refused()
    return admin


def sign_out(runtime: ConsoleRuntime, cookie: str | None) -> None:
    if cookie:
        runtime.console.sign_out(cookie)


# --- tenants and credentials ----------------------------------------------------------------
def tenants(runtime: ConsoleRuntime, admin: SignedIn) -> list[tuple[Tenant, int]]:
    return runtime.console.tenants(admin)


def tenant_rows(runtime: ConsoleRuntime, admin: SignedIn) -> list[tuple[Tenant, int, int]]:
    return runtime.console.tenant_rows(admin)


def charts(runtime: ConsoleRuntime, admin: SignedIn) -> Charts:
    return runtime.console.charts(admin)


def audit_view(runtime: ConsoleRuntime, admin: SignedIn, query: AuditQuery) -> AuditPage:
    return runtime.console.audit_page(admin, query)


def search(
    runtime: ConsoleRuntime, admin: SignedIn, tenant: str, prefix: str, after: str
) -> CredentialPage:
    return runtime.console.search(admin, tenant, prefix, after)


def credential(
    runtime: ConsoleRuntime, admin: SignedIn, tenant: str, name: str
) -> CredentialRecord:
    return runtime.credentials.get_credential(admin.principal(tenant), name)


def act_on_credential(
    runtime: ConsoleRuntime, admin: SignedIn, tenant: str, name: str, action: str
) -> str:
    """disable, enable, reset (the throttle) or delete; returns what happened, for the page."""
    principal = admin.principal(tenant)
    credentials = runtime.credentials
    if action in ("disable", "enable"):
        state = credentials.set_enabled(principal, name, enabled=action == "enable")
        return f"{name} is now {state}"
    if action == "reset":
        credentials.reset_throttle(principal, name)
        return f"the throttle of {name} is reset"
    if action == "delete":
        credentials.delete_credential(principal, name)
        return f"{name} is deleted"
    raise InvalidInput("action", "must be disable, enable, reset or delete")


def issue_link(runtime: ConsoleRuntime, admin: SignedIn, tenant: str, name: str) -> str:
    """A one-time enrolment link's ticket for `name`, shown once."""
    return runtime.enrolment.issue_link(admin.principal(tenant), name)


# --- self-service enrolment (no admin: the ticket is the authority) --------------------------
def enrolling(runtime: ConsoleRuntime, ticket: str) -> Enrolling:
    """What a live link for a pending credential shows, the QR code drawn here, in the
    worker (a PNG is milliseconds of CPU); NotFound for anything else."""
    shown = runtime.enrolment.pending_enrolment(ticket)
    png = base64.b64encode(qr.png_bytes(shown.uri, scale=_QR_SCALE)).decode("ascii")
    key = base64.b32encode(shown.secret.reveal()).decode("ascii").rstrip("=")
    return Enrolling(shown.record, key, "data:image/png;base64," + png)


def confirm(runtime: ConsoleRuntime, ticket: str, code: str) -> bool:
    """The first code: accepted, the credential is active and the link dead."""
    return runtime.enrolment.confirm_enrolment(ticket, code)


# --- API clients ----------------------------------------------------------------------------
def clients(runtime: ConsoleRuntime, admin: SignedIn, tenant: str) -> list[ApiClient]:
    admin.principal(tenant)
    return runtime.access.list_clients(tenant)


def create_client(
    runtime: ConsoleRuntime, admin: SignedIn, tenant: str, name: str, scopes: list[str]
) -> str:
    """Returns the key, shown once."""
    admin.principal(tenant)
    try:
        chosen = [Scope(s) for s in scopes]
    except ValueError:
        raise InvalidInput("scopes", "unknown scope") from None
    if Scope.SEAL in chosen:
        raise InvalidInput("scopes", "seal clients are made with the command line")
    validate_tenant_id(name, "name")
    return runtime.access.create_client(tenant, name, chosen)[1]


def revoke_client(runtime: ConsoleRuntime, admin: SignedIn, tenant: str, name: str) -> str:
    """Delete the client and its bearer tokens; returns what happened, for the page."""
    admin.principal(tenant)
    runtime.access.revoke_client(tenant, name)
    return f"{name} is revoked"


def rotate_client(
    runtime: ConsoleRuntime, admin: SignedIn, tenant: str, name: str, grace: str
) -> tuple[str, str]:
    """A new key (shown once) and what happens to the old one, for the page."""
    admin.principal(tenant)
    grace_s = parse_grace(grace)
    key = runtime.access.rotate_client(tenant, name, grace_s)[1]
    old = (
        "The old key is refused from now on."
        if grace_s == 0
        else (f"The old key keeps working for {grace} (docs/operations.md, API clients).")
    )
    return key, old


# --- the seal -------------------------------------------------------------------------------
def seal_status(runtime: ConsoleRuntime) -> SealStatus:
    return runtime.sealing.seal_status()


def seal_view(runtime: ConsoleRuntime, cookie: str | None) -> tuple[SignedIn | None, SealStatus]:
    """The seal page: the signed-in admin if any (a sealed otpd still has its sessions)."""
    try:
        admin: SignedIn | None = runtime.console.signed_in(cookie)
    except Unauthenticated:
        admin = None
    return admin, seal_status(runtime)


def unseal(runtime: ConsoleRuntime, share: str) -> SealStatus:
    """Shares are the authority (as the API's unseal): no sign-in needed, or possible."""
    return runtime.sealing.submit_unseal_share(share)


def reset_unseal(runtime: ConsoleRuntime, nonce: str) -> SealStatus:
    """Discard the shares given so far; only with the nonce the unseal in progress returned
    (docs/operations.md), so a passer-by cannot undo a ceremony."""
    return runtime.sealing.reset_unseal(nonce)


def seal(runtime: ConsoleRuntime, admin: SignedIn) -> SealStatus:
    if admin.account.tenant is not None:
        raise Forbidden("only an admin of every tenant may seal")
    principal = Principal(SYSTEM_TENANT, admin.caller, frozenset({Scope.SEAL}))
    return runtime.sealing.seal(principal)
