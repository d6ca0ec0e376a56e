"""A short-lived cache of API key hash -> client (issue #12, docs/performance.md#lean-hot-path).

Every request authenticates by API key, and the lookup was 15% of the server's busy time
under synchronous=NORMAL. A found client is kept for at most `ttl` seconds (0.5 by default) in
this process: a client removed, revoked or changed on any instance or worker is refused
everywhere within that time, inside the one second docs/security.md allows. Unknown keys are
never cached (a stream of wrong keys cannot fill it), and the cache holds key hashes only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from otpd.core.model import ApiClient

__all__ = ["ClientCache"]


class ClientCache:
    def __init__(
        self,
        ttl: float = 0.5,
        *,
        max_entries: int = 4096,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._monotonic = monotonic
        # dict reads and writes are atomic under the GIL; a race only repeats a lookup
        self._entries: dict[str, tuple[float, ApiClient]] = {}

    def get(self, key_hash: str, load: Callable[[str], ApiClient | None]) -> ApiClient | None:
        now = self._monotonic()
        hit = self._entries.get(key_hash)
        if hit is not None and now < hit[0]:
            return hit[1]
        client = load(key_hash)
        if client is None or self._ttl <= 0:
            self._entries.pop(key_hash, None)
            return client
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # bounded; rebuilt by the next lookups
        self._entries[key_hash] = (now + self._ttl, client)
        return client

    def forget(self) -> None:
        """Drop every entry: a revoke, rotation or scope change made by this process is in
        force for its next request (other processes see it within the TTL)."""
        self._entries.clear()
