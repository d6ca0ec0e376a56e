"""Background re-encryption after `otpd rotate-data-key` (issue #14, docs/operations.md#keys).

Every sealed column (credential secrets, NAS secrets) names the key that sealed it in its blob
header: format 1 is a keyring key (before per-tenant keys), format 2 a version of the owning
tenant's key. A pass walks the rows in small batches by id and re-seals each one that is not
under its tenant's newest version, with a compare-and-set on the old blob: a concurrent write
(already under the newest version) or another node's pass wins, so every node may run passes
without a leader and no write is lost. Serving never waits: a batch is one short read and one
short write per stale row, and a pass yields between batches.

A version older than the newest is retired (its row deleted) once a complete pass found no row
under it and the version after it is older than RETIRE_GRACE_SECONDS, so a write that read the
old active version just before the rotation has long landed.

progress() is this process's view of the last pass, for `otpd status` and the metrics endpoint.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

from otpd.core.errors import SecretCorrupted
from otpd.crypto.aead import FORMAT_TENANT, blob_header
from otpd.crypto.sealer import SealManager
from otpd.crypto.tenant_keys import KeyRow, key_owner

__all__ = ["BATCH", "RETIRE_GRACE_SECONDS", "Progress", "Reencryptor", "key_usage", "progress"]

BATCH = 50
RETIRE_GRACE_SECONDS = 60


class Row(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def tenant(self) -> str: ...

    @property
    def ref(self) -> str: ...

    @property
    def blob(self) -> bytes: ...


class TenantKeyRowLike(KeyRow, Protocol):
    @property
    def tenant(self) -> str: ...


class ReencryptStore(Protocol):
    """otpd.store.key_rows."""

    def sealed_rows(self, after_id: int, limit: int) -> Sequence[Row]: ...

    def nas_sealed_rows(self) -> Sequence[Row]: ...

    def reseal(self, row: Row, new_blob: bytes) -> bool: ...

    def all_tenant_keys(self) -> Sequence[TenantKeyRowLike]: ...

    def retire_tenant_key(self, tenant_id: str, version: int) -> bool: ...


@dataclass
class Progress:
    """stale: rows found under an older key in the last pass; done: re-sealed since start;
    passes: complete passes; pending: stale rows of the running or last pass not yet done."""

    stale: int = 0
    pending: int = 0
    done: int = 0
    passes: int = 0
    retired: int = 0
    running: bool = False


_PROGRESS = Progress()
_PROGRESS_LOCK = threading.Lock()


def progress() -> dict[str, int | bool]:
    """Re-encryption progress of this process (a copy): for metrics (issue #13) and status."""
    with _PROGRESS_LOCK:
        return asdict(_PROGRESS)


def _context(row: Row) -> tuple[str, int]:
    """The AAD fields the row's blob was sealed with (core.credential_service, core.nas)."""
    if row.kind == "credential":
        return row.tenant, int(row.ref)
    return f"radius-nas/{row.tenant}/{row.ref}", 0


def key_usage(rows: Sequence[Row]) -> Counter[tuple[str, int, int]]:
    """How many rows each (tenant, format, version) seals."""
    usage: Counter[tuple[str, int, int]] = Counter()
    for row in rows:
        try:
            fmt, version = blob_header(row.blob)
        except SecretCorrupted:
            continue
        usage[row.tenant, fmt, version] += 1
    return usage


class Reencryptor:
    def __init__(
        self,
        store: ReencryptStore,
        sealer: SealManager,
        *,
        pause: float = 0.01,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._sealer = sealer
        self._pause = pause
        self._clock = clock
        self._seen_keys: tuple[tuple[str, int], ...] | None = None

    def needed(self) -> bool:
        """Cheap: did the tenant key set change since the last pass that left nothing stale?"""
        return self._keyset() != self._seen_keys

    def _keyset(self) -> tuple[tuple[str, int], ...]:
        return tuple((r.tenant, r.version) for r in self._store.all_tenant_keys())

    def run_pass(self, grace: float = RETIRE_GRACE_SECONDS) -> int:
        """One pass over every sealed row; returns how many were re-sealed. Raises Sealed."""
        started = self._clock()
        keys_before = set(self._keyset())
        usage: Counter[tuple[str, int, int]] = Counter()
        stale = resealed = 0
        _set(running=True)
        try:
            for batch in self._batches():
                s, r, used = self._batch(batch)
                stale, resealed = stale + s, resealed + r
                usage.update(used)
                _set(pending=stale - resealed)
                time.sleep(self._pause)  # let request threads have the store
        finally:
            _set(running=False)
        retired = self._retire(usage, started - grace)
        with _PROGRESS_LOCK:
            _PROGRESS.stale, _PROGRESS.pending = stale, stale - resealed
            _PROGRESS.done += resealed
            _PROGRESS.passes += 1
            _PROGRESS.retired += retired
        # Retiring changed the key set itself. A version added during the pass (a rotation, or
        # a new tenant) may have been missed by earlier batches: then pass again.
        keys_after = self._keyset()
        done = stale == resealed and set(keys_after) <= keys_before
        self._seen_keys = keys_after if done else None
        return resealed

    def _batches(self) -> _Walk:
        return _Walk(self._store)

    def _batch(self, rows: Sequence[Row]) -> tuple[int, int, Counter[tuple[str, int, int]]]:
        tenant_keys = self._sealer.tenant_keys()
        active: dict[str, int] = {}
        stale = resealed = 0
        used: Counter[tuple[str, int, int]] = Counter()
        for row in rows:
            context, ident = _context(row)
            owner = key_owner(context)
            if owner not in active:
                active[owner] = tenant_keys.active(owner)[0]
            try:
                fmt, version = blob_header(row.blob)
            except SecretCorrupted:
                continue  # left as is; the API reports it when the row is used
            if (fmt, version) == (FORMAT_TENANT, active[owner]):
                used[row.tenant, fmt, version] += 1
                continue
            stale += 1
            try:
                secret = self._sealer.open_secret(row.blob, tenant=context, credential_id=ident)
            except SecretCorrupted:
                used[row.tenant, fmt, version] += 1
                continue
            new = self._sealer.seal_secret(secret, tenant=context, credential_id=ident)
            if self._store.reseal(row, new):
                resealed += 1
                used[row.tenant, *blob_header(new)] += 1
            else:
                resealed += 1  # changed meanwhile: rewritten under the newest key by its writer
        return stale, resealed, used

    def _retire(self, usage: Counter[tuple[str, int, int]], before: float) -> int:
        """Drop versions no row uses, whose successor is older than `before`."""
        retired = 0
        rows = sorted(self._store.all_tenant_keys(), key=lambda r: (r.tenant, r.version))
        for current, successor in itertools.pairwise(rows):
            if current.tenant != successor.tenant or successor.created_at > before:
                continue
            if usage[current.tenant, FORMAT_TENANT, current.version]:
                continue
            if self._store.retire_tenant_key(current.tenant, current.version):
                retired += 1
        return retired


class _Walk:
    """Credential rows by id in batches, then the NAS rows."""

    def __init__(self, store: ReencryptStore) -> None:
        self._store = store

    def __iter__(self) -> _WalkIter:
        return _WalkIter(self._store)


class _WalkIter:
    def __init__(self, store: ReencryptStore) -> None:
        self._store = store
        self._after: int | None = 0

    def __iter__(self) -> _WalkIter:
        return self

    def __next__(self) -> Sequence[Row]:
        if self._after is None:
            raise StopIteration
        rows = self._store.sealed_rows(self._after, BATCH)
        if rows:
            self._after = int(rows[-1].ref)
            return rows
        self._after = None
        nas = self._store.nas_sealed_rows()
        if not nas:
            raise StopIteration
        return nas


def _set(**values: int | bool) -> None:
    with _PROGRESS_LOCK:
        for name, value in values.items():
            setattr(_PROGRESS, name, value)
