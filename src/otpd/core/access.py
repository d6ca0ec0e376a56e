"""Principals and scopes: least privilege (docs/requirements.md#model,
docs/requirements.md#least-privilege)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

from otpd.core.errors import Forbidden, InvalidInput
from otpd.core.model import SYSTEM_TENANT, ApiClient, Principal, Scope

__all__ = [
    "KEY_ALPHABET",
    "KEY_LENGTH",
    "LAST_USED_GRANULARITY_US",
    "MAX_GRACE_S",
    "hash_key",
    "key_is_live",
    "new_key",
    "parse_grace",
    "require",
    "require_credential_tenant",
]

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 40  # 40 x log2(62) = 238 bits: high entropy, so SHA-256 needs no slow hash


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def require(principal: Principal, scope: Scope) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"missing scope {scope.value}")


def require_credential_tenant(principal: Principal) -> None:
    """The system tenant holds the seal's clients and the console's admins, no credentials
    an API may create."""
    if principal.tenant == SYSTEM_TENANT:
        raise Forbidden("the system tenant holds no credentials")


# --- key lifecycle (docs/operations.md#api-clients-list-rotate-revoke) --------------------
LAST_USED_GRANULARITY_US = 60 * 1_000_000  # last-used is written at most once a minute
MAX_GRACE_S = 30 * 86400  # a rotated-out key lives at most 30 days
_GRACE = re.compile(r"([0-9]{1,7})([smhd]?)")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def key_is_live(client: ApiClient, key_hash: str, now_us: int) -> bool:
    """Whether `key_hash` (of a key or of the key a bearer token was issued under) opens
    `client` at `now_us`: its current key, or the key it replaced while the grace lasts."""
    if hmac.compare_digest(client.key_hash, key_hash):
        return True
    previous = client.previous_key_hash
    return (
        previous is not None
        and now_us < client.previous_key_expires_at_us
        and hmac.compare_digest(previous, key_hash)
    )


def parse_grace(text: str) -> int:
    """`0`, `90s`, `15m`, `1h`, `2d` -> seconds (a bare number is seconds), at most 30 days."""
    match = _GRACE.fullmatch(text.strip().lower()) if isinstance(text, str) else None
    seconds = int(match[1]) * _UNIT_S[match[2]] if match else -1
    if not 0 <= seconds <= MAX_GRACE_S:
        raise InvalidInput("grace", "must be a duration such as 0, 90s, 15m, 1h or 2d (max 30d)")
    return seconds
