"""Strongbox bearer tokens (docs/requirements.md#model): random, stored only as SHA-256, with a TTL
that a refresh resets (never past the token's maximum lifetime)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from otpd.core.errors import Unauthenticated
from otpd.core.model import Principal, TokenRecord
from otpd.core.ports import CredentialStore

__all__ = ["IssuedToken", "TokenPolicy", "hash_token", "new_token_record", "principal_for_token"]


@dataclass(frozen=True)
class TokenPolicy:
    ttl_s: int = 3600
    max_ttl_s: int = 86400


@dataclass(frozen=True)
class IssuedToken:
    token: str = field(repr=False)  # shown to the caller once; only its hash is stored
    record: TokenRecord


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token_record(principal: Principal, now_us: int, policy: TokenPolicy) -> IssuedToken:
    # uuid4 draws 122 bits from os.urandom; Avassa tokens look like UUIDs (the vendor's public
    # clients).
    token = str(uuid.uuid4())
    record = TokenRecord(
        token_hash=hash_token(token),
        accessor=str(uuid.uuid4()),
        tenant=principal.tenant,
        client=principal.client,
        created_at_us=now_us,
        renewed_at_us=now_us,
        expires_at_us=now_us + policy.ttl_s * 1_000_000,
    )
    return IssuedToken(token, record)


def renewed_expiry(
    record: TokenRecord, now_us: int, increment_s: int | None, policy: TokenPolicy
) -> int:
    """Refresh resets the TTL from now (it does not add), capped at the maximum lifetime."""
    ttl = policy.ttl_s if increment_s is None else min(increment_s, policy.ttl_s)
    return min(now_us + ttl * 1_000_000, record.created_at_us + policy.max_ttl_s * 1_000_000)


def principal_for_token(
    store: CredentialStore, token: str, now_us: int
) -> tuple[Principal, TokenRecord]:
    """Token -> principal with the client's current scopes. One answer for every failure."""
    if not isinstance(token, str) or not 1 <= len(token) <= 256:
        raise Unauthenticated("bad token")
    record = store.get_token(hash_token(token))
    if record is None or record.expires_at_us <= now_us:
        raise Unauthenticated("bad token")
    client = store.get_client(record.tenant, record.client)
    if client is None:
        raise Unauthenticated("bad token")  # the client was removed
    return Principal(tenant=client.tenant, client=client.name, scopes=client.scopes), record
