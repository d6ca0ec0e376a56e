"""An in-memory CredentialStore: the twin of the SQLite store for fast tests.

One lock makes every method atomic, which is exactly the contract the SQL stores meet with
single statements and transactions. The contract suite in tests/store runs over both.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from otpd.core.enrolment import EnrolmentTicket
from otpd.core.errors import AlreadyExists, NotFound
from otpd.core.model import ApiClient, CredentialRecord, Tenant, ThrottleState, TokenRecord
from otpd.core.policy import is_throttled, rescale_step
from otpd.store.audit_rows import MemoryAuditRows
from otpd.store.client_rows import MemoryClientRows
from otpd.store.console_rows import MemoryConsoleRows
from otpd.store.key_rows import MemoryKeyRows
from otpd.store.radius_rows import MemoryRadiusRows

__all__ = ["MemoryStore"]

_Row = TypeVar("_Row")


class MemoryStore(  # + RADIUS (#15), console (#16), keys, clients (#14), audit (#13)
    MemoryRadiusRows, MemoryConsoleRows, MemoryKeyRows, MemoryClientRows, MemoryAuditRows
):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, Tenant] = {}
        self._clients: dict[tuple[str, str], ApiClient] = {}
        self._credentials: dict[int, CredentialRecord] = {}
        self._meta: dict[str, str] = {}
        self._tokens: dict[str, TokenRecord] = {}
        self._unknown_attempts: dict[str, int] = {}
        self._tickets: dict[str, EnrolmentTicket] = {}  # Token2 enrolment tickets by hash
        self._next_id = 0

    # --- tenants and API clients ---------------------------------------------------------
    def create_tenant(self, tenant: Tenant) -> None:
        with self._lock:
            if tenant.id in self._tenants:
                raise AlreadyExists("tenant exists")
            self._tenants[tenant.id] = tenant

    def update_tenant(self, tenant: Tenant) -> None:
        with self._lock:
            if tenant.id not in self._tenants:
                raise NotFound("no such tenant")
            self._tenants[tenant.id] = tenant

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        with self._lock:
            return self._tenants.get(tenant_id)

    def list_tenants(self) -> list[Tenant]:
        with self._lock:
            return sorted(self._tenants.values(), key=lambda t: t.id)

    def create_client(self, client: ApiClient) -> None:
        with self._lock:
            if client.tenant not in self._tenants:
                raise NotFound("no such tenant")
            if (client.tenant, client.name) in self._clients or any(
                c.key_hash == client.key_hash for c in self._clients.values()
            ):
                raise AlreadyExists("client exists")
            self._clients[(client.tenant, client.name)] = client

    def find_client_by_key_hash(self, key_hash: str) -> ApiClient | None:
        with self._lock:
            found = (
                c for c in self._clients.values() if key_hash in (c.key_hash, c.previous_key_hash)
            )
            return next(found, None)

    def list_clients(self, tenant_id: str) -> list[ApiClient]:
        with self._lock:
            clients = list(self._clients.values())
        return sorted((c for c in clients if c.tenant == tenant_id), key=lambda c: c.name)

    def get_client(self, tenant_id: str, name: str) -> ApiClient | None:
        with self._lock:
            return self._clients.get((tenant_id, name))

    # --- credentials ---------------------------------------------------------------------
    def allocate_credential_id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def insert_credential(self, record: CredentialRecord) -> None:
        with self._lock:
            if record.tenant not in self._tenants:
                raise NotFound("no such tenant")
            if record.id in self._credentials or self._find(record.tenant, record.name):
                raise AlreadyExists("credential exists")
            self._credentials[record.id] = record

    def replace_credential(
        self,
        record: CredentialRecord,
        *,
        reset_state: bool,
        expect_version: int | None = None,
    ) -> bool:
        with self._lock:
            current = self._credentials.get(record.id)
            if current is None or current.tenant != record.tenant:
                return False
            if expect_version is not None and current.version != expect_version:
                return False
            other = self._find(record.tenant, record.name)
            if other is not None and other.id != record.id:
                raise AlreadyExists("credential exists")
            last_step = rescale_step(current.last_step, current.params.period, record.params.period)
            self._credentials[record.id] = replace(
                record,
                created_at_us=current.created_at_us,
                last_step=-1 if reset_state else last_step,
                throttle=ThrottleState() if reset_state else current.throttle,
                version=current.version + 1,
                refused=current.refused,
                state=current.state,  # a replace changes settings, not the state (issue #16)
            )
            return True

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None:
        with self._lock:
            return self._find(tenant_id, name)

    def get_credential_by_id(self, tenant_id: str, credential_id: int) -> CredentialRecord | None:
        with self._lock:
            record = self._credentials.get(credential_id)
        return record if record is not None and record.tenant == tenant_id else None

    def list_credentials(self, tenant_id: str) -> list[CredentialRecord]:
        with self._lock:
            return sorted(
                (r for r in self._credentials.values() if r.tenant == tenant_id),
                key=lambda r: r.name,
            )

    def count_credentials(self, tenant_id: str) -> int:
        return len(self.list_credentials(tenant_id))

    def delete_credential(
        self, tenant_id: str, name: str, *, expect_version: int | None = None
    ) -> bool:
        with self._lock:
            record = self._find(tenant_id, name)
            if record is None or expect_version not in (None, record.version):
                return False
            del self._credentials[record.id]
            # As ON DELETE CASCADE in SQL.
            _delete_where(self._tickets, lambda t: t.credential_id == record.id)
            return True

    # --- verification state --------------------------------------------------------------
    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        with self._lock:
            record = self._credentials.get(credential_id)
            if record is None or record.last_step >= new_step:
                return False
            if now is not None and is_throttled(record.throttle, now):
                return False
            self._credentials[credential_id] = replace(
                record, last_step=new_step, throttle=ThrottleState()
            )
            return True

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], ThrottleState]
    ) -> ThrottleState | None:
        with self._lock:
            record = self._credentials.get(credential_id)
            if record is None:
                return None
            if is_throttled(record.throttle, now):
                self._credentials[credential_id] = replace(record, refused=record.refused + 1)
                return None
            state = next_state(record.throttle.failures + 1)
            self._credentials[credential_id] = replace(record, throttle=state)
            return state

    def record_refusal(self, credential_id: int) -> None:
        with self._lock:
            record = self._credentials.get(credential_id)
            if record is not None:
                self._credentials[credential_id] = replace(record, refused=record.refused + 1)

    def reset_failures(self, tenant_id: str, name: str) -> bool:
        with self._lock:
            record = self._find(tenant_id, name)
            if record is None:
                return False
            self._credentials[record.id] = replace(record, throttle=ThrottleState())
            return True

    def record_unknown_attempt(self, tenant_id: str) -> None:
        with self._lock:
            if tenant_id in self._tenants:
                self._unknown_attempts[tenant_id] = self._unknown_attempts.get(tenant_id, 0) + 1

    # --- tokens --------------------------------------------------------------------------
    def insert_token(self, token: TokenRecord) -> None:
        with self._lock:
            if token.token_hash in self._tokens:
                raise AlreadyExists("token exists")
            self._tokens[token.token_hash] = token

    def renew_token(self, token_hash: str, renewed_at_us: int, expires_at_us: int) -> bool:
        with self._lock:
            token = self._tokens.get(token_hash)
            if token is None or token.expires_at_us <= renewed_at_us:
                return False
            self._tokens[token_hash] = replace(
                token, renewed_at_us=renewed_at_us, expires_at_us=expires_at_us
            )
            return True

    def delete_expired_tokens(self, now_us: int) -> int:
        with self._lock:
            return _delete_where(self._tokens, lambda t: t.expires_at_us <= now_us)

    # --- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        with self._lock:
            return self._meta.get(key)

    def put_meta_if_absent(self, key: str, value: str) -> bool:
        with self._lock:
            if key in self._meta:
                return False
            self._meta[key] = value
            return True

    def close(self) -> None:
        pass

    def _find(self, tenant_id: str, name: str) -> CredentialRecord | None:
        return next(
            (r for r in self._credentials.values() if r.tenant == tenant_id and r.name == name),
            None,
        )

    # --- Token2 enrolment tickets (issue #5) --------------------------------------------
    def insert_enrolment_ticket(self, ticket: EnrolmentTicket) -> None:
        with self._lock:
            record = self._credentials.get(ticket.credential_id)
            if record is None or record.tenant != ticket.tenant:
                raise NotFound("no such credential")
            if ticket.ticket_hash in self._tickets:
                raise AlreadyExists("enrolment ticket exists")
            self._tickets[ticket.ticket_hash] = ticket

    def get_enrolment_ticket(self, ticket_hash: str) -> EnrolmentTicket | None:
        with self._lock:
            return self._tickets.get(ticket_hash)

    def delete_expired_enrolment_tickets(self, now_us: int) -> int:
        with self._lock:
            return _delete_where(self._tickets, lambda t: t.expires_at_us <= now_us)

    def delete_enrolment_tickets(self, tenant_id: str, credential_id: int) -> int:
        with self._lock:
            return self._drop_tickets(tenant_id, credential_id)

    def _drop_tickets(self, tenant_id: str, credential_id: int) -> int:
        return _delete_where(
            self._tickets, lambda t: t.credential_id == credential_id and t.tenant == tenant_id
        )

    # --- the console's self-service enrolment (issue #16) -------------------------------
    def start_enrolment(self, ticket: EnrolmentTicket) -> None:
        with self._lock:
            record = self._credentials.get(ticket.credential_id)
            if record is None or record.tenant != ticket.tenant:
                raise NotFound("no such credential")
            if ticket.ticket_hash in self._tickets:
                raise AlreadyExists("enrolment ticket exists")
            self._credentials[record.id] = replace(record, state="pending")
            self._tickets[ticket.ticket_hash] = ticket

    def finish_enrolment(self, tenant_id: str, credential_id: int) -> bool:
        with self._lock:
            record = self._credentials.get(credential_id)
            if record is None or record.tenant != tenant_id or record.state != "pending":
                return False
            self._credentials[record.id] = replace(record, state="active")
            self._drop_tickets(tenant_id, credential_id)
            return True


def _delete_where(rows: dict[str, _Row], doomed: Callable[[_Row], bool]) -> int:
    """Delete the rows `doomed` picks; returns how many (a DELETE ... WHERE's rowcount)."""
    gone = [key for key, row in rows.items() if doomed(row)]
    for key in gone:
        del rows[key]
    return len(gone)
