"""Strongbox bearer tokens (docs/requirements.md#model): random, stored only as SHA-256, with a TTL
that a refresh resets (never past the token's maximum lifetime)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field

from otpd.core.access import key_is_live
from otpd.core.errors import Unauthenticated
from otpd.core.model import ApiClient, Principal, TokenRecord
from otpd.core.ports import ClientStore

__all__ = ["IssuedToken", "TokenPolicy", "hash_token", "new_token_record", "resolve_token"]


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


def new_token_record(
    principal: Principal, now_us: int, policy: TokenPolicy, client_key_hash: str = ""
) -> IssuedToken:
    # uuid4 draws 122 bits from os.urandom; Avassa tokens look like UUIDs.
    token = str(uuid.uuid4())
    record = TokenRecord(
        token_hash=hash_token(token),
        accessor=str(uuid.uuid4()),
        tenant=principal.tenant,
        client=principal.client,
        created_at_us=now_us,
        renewed_at_us=now_us,
        expires_at_us=now_us + policy.ttl_s * 1_000_000,
        client_key_hash=client_key_hash,
    )
    return IssuedToken(token, record)


def renewed_expiry(
    record: TokenRecord, now_us: int, increment_s: int | None, policy: TokenPolicy
) -> int:
    """Refresh resets the TTL from now (it does not add), capped at the maximum lifetime."""
    ttl = policy.ttl_s if increment_s is None else min(increment_s, policy.ttl_s)
    return min(now_us + ttl * 1_000_000, record.created_at_us + policy.max_ttl_s * 1_000_000)


def resolve_token(store: ClientStore, token: str, now_us: int) -> tuple[TokenRecord, ApiClient]:
    """Token -> its record and its client as stored now (current scopes), in one store lookup.
    One answer for every failure: expired, unknown, its client revoked, or the key that logged
    it in rotated out (core.access.key_is_live: a token lives no longer than its key)."""
    if not isinstance(token, str) or not 1 <= len(token) <= 256:
        raise Unauthenticated("bad token")
    found = store.get_token_with_client(hash_token(token))
    if found is None:
        raise Unauthenticated("bad token")
    record, client = found
    if record.expires_at_us <= now_us or not key_is_live(client, record.client_key_hash, now_us):
        raise Unauthenticated("bad token")
    return record, client
