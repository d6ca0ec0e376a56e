"""The seams to the outside world, as Protocols. Adapters implement them; the core calls them.

Invariants live in the store's methods, not in CRUD: `advance` is the one place where a code
is consumed (compare-and-set), `record_failure` the one place where a failure is counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from otpd.core.audit import AuditEntry, AuditQuery

# The console's own ports live beside its records (core.console); Store combines them too.
from otpd.core.console import ConsoleStore, PasswordHasher
from otpd.core.enrolment import EnrolmentTicket
from otpd.core.model import (
    ApiClient,
    CredentialRecord,
    Scope,
    SealStatus,
    SecretBytes,
    Tenant,
    ThrottleState,
    TokenRecord,
)
from otpd.core.nas import NasClient, RadiusChallenge

__all__ = [
    "AuditStore",
    "BulkCredentialStore",
    "ClientStore",
    "Clock",
    "ConsoleStore",
    "CredentialStateStore",
    "CredentialStore",
    "MetaStore",
    "NasStore",
    "PasswordHasher",
    "Sealer",
    "Store",
    "TenantRemovalStore",
    "TenantStore",
]


class Clock(Protocol):
    def now_us(self) -> int:
        """Microseconds since the Unix epoch (UTC)."""
        ...


class Sealer(Protocol):
    """Encrypts secrets at rest, bound to (tenant, credential id)
    (docs/requirements.md#encrypted-at-rest)."""

    def is_sealed(self) -> bool: ...

    def seal_secret(self, secret: SecretBytes, *, tenant: str, credential_id: int) -> bytes:
        """Raises Sealed when the seal key is not in memory."""
        ...

    def open_secret(self, blob: bytes, *, tenant: str, credential_id: int) -> SecretBytes:
        """Raises Sealed, or SecretCorrupted when the ciphertext fails authentication."""
        ...

    def status(self) -> SealStatus: ...

    def submit_share(self, share: str) -> SealStatus:
        """Add one unseal share (Shamir mode). Raises InvalidShare; a bad share does not count."""
        ...

    def reset_progress(self, nonce: str) -> SealStatus:
        """Discard the shares given so far. Raises InvalidShare unless `nonce` is the nonce of
        the ceremony in progress; a wrong nonce leaves the progress as it was."""
        ...

    def seal(self) -> None:
        """Forget the keys (in every worker process of this node)."""
        ...


class TenantStore(Protocol):
    """Tenants (docs/requirements.md#tenancy)."""

    def create_tenant(self, tenant: Tenant) -> None: ...  # AlreadyExists if taken

    def update_tenant(self, tenant: Tenant) -> None: ...  # NotFound if missing

    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    def list_tenants(self) -> list[Tenant]: ...


class ClientStore(Protocol):
    """API clients and the Strongbox bearer tokens issued to them."""

    def create_client(self, client: ApiClient) -> None:
        """Raises AlreadyExists (same name in the tenant, or the same key hash anywhere)."""
        ...

    def find_client_by_key_hash(self, key_hash: str) -> ApiClient | None: ...

    def list_clients(self, tenant_id: str) -> list[ApiClient]: ...

    def get_client(self, tenant_id: str, name: str) -> ApiClient | None:
        """One client by its primary key (tenant, name)."""
        ...

    def delete_client(self, tenant_id: str, name: str) -> bool:
        """Delete the client and its bearer tokens in one transaction. False if none."""
        ...

    def rotate_client_key(
        self, tenant_id: str, name: str, key_hash: str, previous_expires_at_us: int | None
    ) -> bool:
        """Make `key_hash` the client's key in one transaction. The outgoing key becomes the
        previous key until `previous_expires_at_us`, or is dropped with None; a previous key
        still in its grace is replaced (one at a time). Deletes the client's bearer tokens
        except those of the kept previous key. False if no such client; AlreadyExists if the
        hash is another client's key."""
        ...

    def set_client_scopes(self, tenant_id: str, name: str, scopes: frozenset[Scope]) -> bool:
        """False if no such client."""
        ...

    def touch_client(self, tenant_id: str, name: str, now_us: int, stale_before_us: int) -> bool:
        """Set last_used_at_us = now_us only if the stored value is below stale_before_us
        (coarse last-used: one conditional write per client a minute, not one a request)."""
        ...

    # --- bearer tokens (Strongbox login) -------------------------------------------------
    def insert_token(self, token: TokenRecord) -> None: ...

    def get_token_with_client(self, token_hash: str) -> tuple[TokenRecord, ApiClient] | None:
        """The token and its client in one lookup (every bearer-token request); None if the
        token or its client is gone."""
        ...

    def renew_token(self, token_hash: str, renewed_at_us: int, expires_at_us: int) -> bool:
        """Set a new expiry on a token that has not expired at `renewed_at_us`."""
        ...

    def delete_expired_tokens(self, now_us: int) -> int: ...


class CredentialStateStore(Protocol):
    """Credentials, their verification state (the invariants) and Token2 enrolment tickets."""

    def allocate_credential_id(self) -> int:
        """The next id of the server-wide sequence (gaps allowed). Needed before encrypting,
        because the ciphertext is bound to the id."""
        ...

    def insert_credential(self, record: CredentialRecord) -> None:
        """Raises AlreadyExists when the name is taken in the tenant."""
        ...

    def replace_credential(
        self,
        record: CredentialRecord,
        *,
        reset_state: bool,
        expect_version: int | None = None,
    ) -> bool:
        """Overwrite the configuration and secret of the row with record.id (same tenant) and
        bump its version; with reset_state also set last_step=-1 and clear the failure state,
        else leave the failure state alone and rescale the stored last_step from the row's
        current period to record's (core.policy.rescale_step), in the same statement, as a
        concurrent verify may be moving it. With
        expect_version, only a row still at that version is written (compare-and-set).
        False if no row was written."""
        ...

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None: ...

    def get_credential_by_id(
        self, tenant_id: str, credential_id: int
    ) -> CredentialRecord | None: ...

    def list_credentials(self, tenant_id: str) -> list[CredentialRecord]: ...

    def count_credentials(self, tenant_id: str) -> int: ...

    def delete_credential(
        self, tenant_id: str, name: str, *, expect_version: int | None = None
    ) -> bool:
        """Delete (only at `expect_version` when given). False if no row was deleted."""
        ...

    # --- verification state: the invariants ----------------------------------------------
    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        """Consume a time step: set last_step = new_step only if last_step < new_step (and,
        given `now`, the credential is not throttled or locked at `now`, as
        core.policy.is_throttled reads its state), and reset the failure state,
        in one atomic statement. True if this call won
        (docs/requirements.md#single-use,
        docs/requirements.md#throttling: a request that read the credential before a concurrent
        failure throttled it must not consume a step after). Durable before it returns
        (docs/requirements.md#durable-before-success)."""
        ...

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], ThrottleState]
    ) -> ThrottleState | None:
        """Count one failed attempt atomically, unless the credential is throttled or locked
        at `now` (then only a refusal is counted, as record_refusal, and None is returned).
        `next_state(failures)` maps the new consecutive-failure count to the state to store
        (the pure policy decides)."""
        ...

    def record_refusal(self, credential_id: int) -> None:
        """Count an attempt refused unevaluated (throttled or locked). One write, like a
        failure, so timing does not tell a throttled credential from a wrong code; it changes
        no failure or throttle state (a flood cannot extend a wait)."""
        ...

    def set_credential_state(self, tenant_id: str, name: str, state: str) -> bool:
        """Set the state (core.model.CREDENTIAL_STATES) of a credential. False if none."""
        ...

    def reset_failures(self, tenant_id: str, name: str) -> bool:
        """Clear failures, backoff and lock (administration); never the replay state. False
        if there is no such credential."""
        ...

    def record_unknown_attempt(self, tenant_id: str) -> None:
        """Count an attempt against a name that does not exist in the tenant. One write, like a
        real failure, so timing does not tell unknown users from known ones
        (docs/requirements.md#equal-work); it changes no credential's state
        (docs/requirements.md#throttling)."""
        ...

    # --- Token2 enrolment tickets (issue #5): only the SHA-256 of a ticket is stored -----
    def insert_enrolment_ticket(self, ticket: EnrolmentTicket) -> None:
        """Raises NotFound when the credential (in ticket.tenant) does not exist, and
        AlreadyExists when the hash is taken. Deleting the credential deletes its tickets."""
        ...

    def get_enrolment_ticket(self, ticket_hash: str) -> EnrolmentTicket | None:
        """The stored ticket, expired or not: the caller compares the expiry with its clock."""
        ...

    def delete_expired_enrolment_tickets(self, now_us: int) -> int:
        """Delete the tickets with expires_at_us <= now_us; returns how many."""
        ...

    def delete_enrolment_tickets(self, tenant_id: str, credential_id: int) -> int:
        """Delete every ticket of that credential (its secret is about to change); returns
        how many."""
        ...

    # --- console self-service enrolment (issue #16): pending until the first code --------
    def start_enrolment(self, ticket: EnrolmentTicket) -> None:
        """In one transaction: set the ticket's credential `pending` and store the ticket.
        NotFound when the credential (in ticket.tenant) does not exist; AlreadyExists when
        the hash is taken. Nothing is written then."""
        ...

    def finish_enrolment(self, tenant_id: str, credential_id: int) -> bool:
        """In one transaction: set a `pending` credential `active` and delete its tickets.
        False (nothing written) when there is no such pending credential."""
        ...


class TenantRemovalStore(Protocol):
    """What deleting a tenant reads and writes (`otpd tenant delete`, docs/operations.md#tenants):
    what it still owns, then everything in one transaction."""

    def count_credentials(self, tenant_id: str) -> int: ...

    def list_nas(self, tenant_id: str | None = None) -> list[NasClient]: ...

    def delete_tenant(self, tenant_id: str, *, erase: bool = False) -> dict[str, int]:
        """Delete the tenant and everything it owns in one transaction (its console admins
        and their TOTP credentials too); with `erase` its data keys as well. Rows deleted
        per table; {} when there is no such tenant."""
        ...


class MetaStore(Protocol):
    """Small named values (keyring, seal configuration) and closing the store."""

    def get_meta(self, key: str) -> str | None: ...

    def put_meta_if_absent(self, key: str, value: str) -> bool:
        """Insert unless present; True if inserted. Used so two nodes starting at once agree
        on one keyring."""
        ...

    def close(self) -> None: ...


class CredentialStore(TenantStore, ClientStore, CredentialStateStore, MetaStore, Protocol):
    """Tenants, API clients, credentials and their verification state.

    Every method is atomic on its own. Names are scoped by tenant (docs/requirements.md#tenancy).
    """


@runtime_checkable
class BulkCredentialStore(Protocol):
    """What import and restore need beyond CredentialStore (issue #17, docs/migrate.md). A
    separate Protocol: a store without it cannot import, and says so."""

    def allocate_credential_ids(self, count: int) -> list[int]:
        """`count` new ids of the server-wide sequence in one write."""
        ...

    def get_credentials_by_name(
        self, tenant_id: str, names: Sequence[str]
    ) -> dict[str, CredentialRecord]: ...

    def write_credentials(
        self, inserts: Sequence[CredentialRecord], replaces: Sequence[CredentialRecord]
    ) -> None:
        """One transaction: insert `inserts` as they are (last_step included), and overwrite
        the settings and secret of each row of `replaces` (same id and tenant) with its
        last_step raised to at least the record's, failures cleared, version bumped and its
        enrolment tickets deleted. AlreadyExists or NotFound: nothing was written."""
        ...

    def raise_replay_floor(self, now: int) -> int:
        """Set every credential's last_step to at least its time step at `now` plus its
        skew; returns how many rows it looked at."""
        ...


class NasStore(Protocol):
    """RADIUS NAS clients, their challenge state and credential group labels (issue #15).
    A separate port: only the RADIUS front-end (otpd.radius) uses it."""

    def insert_nas(self, nas: NasClient) -> None:
        """Raises AlreadyExists (same name in the tenant) or NotFound (no such tenant)."""
        ...

    def replace_nas(self, nas: NasClient) -> bool:
        """Overwrite the NAS (tenant, name); False if there is none."""
        ...

    def list_nas(self, tenant_id: str | None = None) -> list[NasClient]:
        """Every NAS (of one tenant, when given), ordered by tenant and name."""
        ...

    def delete_nas(self, tenant_id: str, name: str) -> bool: ...

    def mark_nas_message_authenticator(self, tenant_id: str, name: str) -> None:
        """Remember that the NAS has sent a Message-Authenticator (policy auto)."""
        ...

    def insert_radius_challenge(self, challenge: RadiusChallenge) -> None: ...

    def take_radius_challenge(self, state_hash: str, now_us: int) -> RadiusChallenge | None:
        """Delete and return the live challenge with that hash, in one atomic step, so a State
        is used once even when two instances receive it at the same moment."""
        ...

    def delete_expired_radius_challenges(self, now_us: int) -> int: ...

    def set_radius_group(self, tenant_id: str, credential: str, label: str | None) -> bool:
        """Set (or with None clear) the credential's group label; False if no credential."""
        ...

    def get_radius_group(self, tenant_id: str, credential: str) -> str | None: ...


class AuditStore(Protocol):
    """The audit trail (issue #13): appended one row at a time, each linked to the last by
    hash (otpd.core.audit). Every store implements it; the database holds the trail so every
    instance writes to one chain."""

    def append_audit_batch(self, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
        """Link `entries` in order to the chain head and store them, in one transaction (the
        trail's group commit); returns them linked."""
        ...

    def list_audit(self, query: AuditQuery) -> list[AuditEntry]: ...

    def audit_head(self) -> tuple[int, str] | None:
        """The newest link (seq, hash) as recorded at append time; None before the first."""
        ...

    def prune_audit(self, before_us: int) -> int:
        """Remove entries older than `before_us` but never the newest; the count removed."""
        ...


class Store(
    CredentialStore,
    BulkCredentialStore,
    NasStore,
    ConsoleStore,
    AuditStore,
    TenantRemovalStore,
    Protocol,
):
    """Every port of a full store (SQLite, PostgreSQL), for bootstrap: the services are
    typed against the narrower ports above."""
