"""Opening each store backend, and small factories of store records for the store tests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from otpd.core.audit import GENESIS
from otpd.core.model import (
    ApiClient,
    CredentialRecord,
    OtpParams,
    Scope,
    Tenant,
    ThrottleState,
    TokenRecord,
)
from otpd.core.ports import CredentialStore
from otpd.store.memory import MemoryStore
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
