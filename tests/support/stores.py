"""Opening each store backend, small factories of store records for the store tests, and the
reads the stores do not offer because only tests need them (`stored_token`, `unknown_attempts`):
these read the backend's tables directly, so they see what was committed."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from psycopg.rows import dict_row

from otpd.core.audit import GENESIS, AuditEntry
from otpd.core.model import (
    ApiClient,
    CredentialRecord,
    OtpParams,
    Scope,
    Tenant,
    ThrottleState,
    TokenRecord,
)
from otpd.core.ports import AuditStore, CredentialStore
from otpd.store.client_rows import token_from_row
from otpd.store.memory import MemoryStore
from otpd.store.pg_connect import pg_sql
from otpd.store.postgres import PostgresStore
from otpd.store.sqlite import SqliteStore

BACKENDS = ["memory", "sqlite", "postgres"]
# Every table of the schema, emptied between tests that share one PostgreSQL database.
_TABLES = (
    "tenant, api_client, credential, meta, token, enrolment_ticket, radius_challenge,"
    " console_admin, console_session, tenant_key, audit"
)


def open_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> CredentialStore:
    if kind == "memory":
        return MemoryStore()
    if kind == "postgres":
        url: str = request.getfixturevalue("pg_module_url")
        pg = PostgresStore(url, pool_size=4)
        with pg._pool.connection() as conn:  # a fresh database is slower than emptying one
            conn.execute(f"TRUNCATE {_TABLES} CASCADE")
            conn.execute("UPDATE credential_id_seq SET value = 0")
            conn.execute(f"UPDATE audit_head SET seq = 0, hash = '{GENESIS}'")
        return pg
    return SqliteStore(tmp_path / "otpd.db")


def make_tenant(tenant_id: str = "acme", **kwargs: Any) -> Tenant:
    return Tenant(id=tenant_id, **kwargs)


def key_hash(label: str) -> str:
    return hashlib.sha256(label.encode()).hexdigest()


def make_client(
    tenant: str = "acme",
    name: str = "app",
    scopes: frozenset[Scope] = frozenset({Scope.VERIFY}),
    **kwargs: Any,
) -> ApiClient:
    kwargs.setdefault("key_hash", key_hash(f"{tenant}/{name}"))
    return ApiClient(tenant=tenant, name=name, scopes=scopes, **kwargs)


def make_record(
    credential_id: int, tenant: str = "acme", name: str = "alice", **kwargs: Any
) -> CredentialRecord:
    fields: dict[str, Any] = {
        "params": OtpParams(),
        "key_size": 20,
        "issuer": "Acme",
        "account_name": name,
        "email": None,
        "phone": None,
        "created_at_us": 1_700_000_000_000_000 + credential_id,
        "sealed_secret": b"sealed:" + bytes([credential_id % 256]) * 28,
    }
    fields.update(kwargs)
    return CredentialRecord(id=credential_id, tenant=tenant, name=name, **fields)


def add_credential(
    store: CredentialStore, tenant: str = "acme", name: str = "alice", **kwargs: Any
) -> CredentialRecord:
    """Allocate an id and insert a credential (creating the tenant if needed)."""
    if store.get_tenant(tenant) is None:
        store.create_tenant(make_tenant(tenant))
    record = make_record(store.allocate_credential_id(), tenant, name, **kwargs)
    store.insert_credential(record)
    return record


def never_throttle(failures: int) -> ThrottleState:
    return ThrottleState(failures=failures, not_before=0)


def make_token(label: str = "t1", expires_at_us: int = 2_000, **kwargs: Any) -> TokenRecord:
    fields: dict[str, Any] = {
        "accessor": f"acc-{label}",
        "tenant": "acme",
        "client": "app",
        "created_at_us": 1_000,
        "renewed_at_us": 1_000,
    }
    fields.update(kwargs)
    return TokenRecord(token_hash=key_hash(label), expires_at_us=expires_at_us, **fields)


def _select(store: object, sql: str, params: Sequence[object]) -> list[dict[str, Any]]:
    """Rows by column name, read past the store's own methods: a fresh connection to the SQLite
    file, or one of the PostgreSQL store's pooled connections. `sql` in SQLite's `?` style."""
    if isinstance(store, SqliteStore):
        with closing(sqlite3.connect(store._path)) as conn:
            conn.row_factory = sqlite3.Row
            return [dict(row) for row in conn.execute(sql, params)]
    if isinstance(store, PostgresStore):
        with store._pool.connection() as pg, pg.cursor(row_factory=dict_row) as cur:
            cur.execute(pg_sql(sql), params)
            found: list[dict[str, Any]] = cur.fetchall()
            return found
    raise TypeError(f"no SQL tables behind {store!r}")


def stored_token(store: object, token_hash: str) -> TokenRecord | None:
    """The bearer token row with that hash, as the backend holds it."""
    if isinstance(store, MemoryStore):
        with store._lock:
            return store._tokens.get(token_hash)
    sql = (
        "SELECT token_hash, accessor, tenant, client, created_at_us, renewed_at_us,"
        " expires_at_us, client_key_hash FROM token WHERE token_hash = ?"
    )
    rows = _select(store, sql, (token_hash,))
    return token_from_row(rows[0]) if rows else None


def unknown_attempts(store: object, tenant_id: str) -> int:
    """The tenant's count of attempts against names it does not have (0 if no such tenant)."""
    if isinstance(store, MemoryStore):
        with store._lock:
            return store._unknown_attempts.get(tenant_id, 0)
    sql = "SELECT unknown_attempts FROM tenant WHERE id = ?"
    rows = _select(store, sql, (tenant_id,))
    return int(rows[0]["unknown_attempts"]) if rows else 0


def append_audit(store: AuditStore | CredentialStore, entry: AuditEntry) -> AuditEntry:
    """One entry through the trail's own write path (core.trail.AuditTrail's batch of one)."""
    audit: Any = store  # every backend implements both protocols
    linked: AuditEntry = audit.append_audit_batch([entry])[0]
    return linked
