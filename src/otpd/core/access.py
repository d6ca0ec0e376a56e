"""Principals and scopes: least privilege (docs/requirements.md#model,
docs/requirements.md#least-privilege)."""

from __future__ import annotations

import hashlib
import secrets
import string

from otpd.core.errors import Forbidden
from otpd.core.model import Principal, Scope

__all__ = ["KEY_ALPHABET", "KEY_LENGTH", "hash_key", "new_key", "require"]

KEY_ALPHABET = string.ascii_letters + string.digits
KEY_LENGTH = 40  # 40 x log2(62) = 238 bits: high entropy, so SHA-256 needs no slow hash


def new_key() -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(KEY_LENGTH))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def require(principal: Principal, scope: Scope) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"missing scope {scope.value}")
