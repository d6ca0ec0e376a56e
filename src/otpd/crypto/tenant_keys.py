"""Per-tenant data keys (issue #14, docs/operations.md#keys).

Each tenant's secrets are sealed under its own data key. Every version of a tenant key is a row
in the store (`tenant_key`), wrapped by the key-encryption key derived from the keyring root
(aead.tenant_kek). A node that holds the keyring in memory can therefore open any version any
other node or command created, without a restart and whatever rekey happened since: a rekey
re-wraps the keyring, never the root (as Vault's keyring under its root key).

- Sealing reads the tenant's versions from the store each time, so a rotation takes effect for
  every node's next write at once; the first seal for a tenant creates its version 1.
- Opening uses a per-process cache, refreshed on a version it does not hold and after
  CACHE_SECONDS, so a deleted (erased) tenant key leaves the memory of running nodes within
  that time as well as the database at once.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from otpd.core.errors import SecretCorrupted
from otpd.crypto.aead import KEY_BYTES, unwrap_tenant_key, wrap_tenant_key

__all__ = ["CACHE_SECONDS", "KeyRow", "KeyRows", "TenantKeys", "key_owner"]

CACHE_SECONDS = 30.0


class KeyRow(Protocol):
    @property
    def version(self) -> int: ...

    @property
    def wrapped(self) -> str: ...

    @property
    def created_at(self) -> int: ...


class KeyRows(Protocol):
    """The store methods tenant keys need (otpd.store.key_rows)."""

    def tenant_keys(self, tenant_id: str) -> Sequence[KeyRow]: ...

    def add_tenant_key(
        self, tenant_id: str, version: int, wrapped: str, created_at: int
    ) -> bool: ...


def key_owner(context: str) -> str:
    """The tenant whose key seals a secret with this AAD context: the tenant itself, or the
    middle of `radius-nas/<tenant>/<name>` (core.nas.NasClient.secret_context)."""
    if context.startswith("radius-nas/"):
        return context.split("/")[1]
    return context


class TenantKeys:
    def __init__(
        self, rows: KeyRows, kek: bytes, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rows = rows
        self._kek = kek
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, dict[int, bytes]]] = {}
        self._unwrapped: dict[tuple[str, int], tuple[str, bytes]] = {}

    def active(self, tenant: str) -> tuple[int, bytes]:
        """The newest version of the tenant's key, read from the store now."""
        keys = self._load(tenant)
        if not keys:
            self.add_version(tenant, 1)
            keys = self._load(tenant)
        version = max(keys)
        return version, keys[version]

    def key(self, tenant: str, version: int) -> bytes:
        """The key of that version, or SecretCorrupted when the store holds no such version
        (never made, retired, or erased with its tenant)."""
        with self._lock:
            cached = self._cache.get(tenant)
        fresh = cached is not None and self._clock() - cached[0] < CACHE_SECONDS
        if cached is None or not fresh or version not in cached[1]:
            keys = self._load(tenant)
        else:
            keys = cached[1]
        if version not in keys:
            raise SecretCorrupted("stored secret has an unknown format or key version")
        return keys[version]

    def add_version(self, tenant: str, version: int) -> bool:
        """Create that version with a new random key; False if it exists already."""
        wrapped = wrap_tenant_key(self._kek, tenant, version, os.urandom(KEY_BYTES))
        return self._rows.add_tenant_key(tenant, version, wrapped, int(time.time()))

    def rotate(self, tenant: str) -> int:
        """A new version after the newest; it is used for every write from now on."""
        while True:
            rows = self._rows.tenant_keys(tenant)
            version = max((r.version for r in rows), default=0) + 1
            if self.add_version(tenant, version):
                return version

    def _load(self, tenant: str) -> dict[int, bytes]:
        rows = self._rows.tenant_keys(tenant)
        keys = {r.version: self._unwrap(tenant, r.version, r.wrapped) for r in rows}
        with self._lock:
            self._cache[tenant] = (self._clock(), keys)
        return keys

    def _unwrap(self, tenant: str, version: int, wrapped: str) -> bytes:
        # A row read again (every seal reads them) is not unwrapped again.
        with self._lock:
            known = self._unwrapped.get((tenant, version))
        if known is not None and known[0] == wrapped:
            return known[1]
        key = unwrap_tenant_key(self._kek, tenant, version, wrapped)
        with self._lock:
            self._unwrapped[tenant, version] = (wrapped, key)
        return key
