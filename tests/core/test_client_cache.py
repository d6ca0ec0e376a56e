"""The API-key cache keeps a found client for at most its TTL, never an unknown key."""

from __future__ import annotations

from otpd.core.client_cache import ClientCache
from otpd.core.model import ApiClient, Scope


def _client(name: str) -> ApiClient:
    return ApiClient(tenant="acme", name=name, scopes=frozenset({Scope.VERIFY}), key_hash="h")


def test_a_found_client_is_kept_for_the_ttl_then_looked_up_again() -> None:
    now = [100.0]
    table: dict[str, ApiClient] = {"h": _client("app")}
    lookups: list[str] = []

    def load(key_hash: str) -> ApiClient | None:
        lookups.append(key_hash)
        return table.get(key_hash)

    cache = ClientCache(0.5, monotonic=lambda: now[0])
    assert cache.get("h", load) == _client("app")
    del table["h"]  # revoked (on any instance)
    now[0] += 0.49
    assert cache.get("h", load) == _client("app")  # still within the TTL
    now[0] += 0.02
    assert cache.get("h", load) is None  # past it: refused
    assert lookups == ["h", "h"]


def test_unknown_keys_are_never_cached_and_the_size_is_bounded() -> None:
    lookups: list[str] = []

    def load(key_hash: str) -> ApiClient | None:
        lookups.append(key_hash)
        return _client(key_hash) if key_hash.startswith("k") else None

    cache = ClientCache(10, max_entries=3, monotonic=lambda: 0.0)
    assert cache.get("x", load) is None
    assert cache.get("x", load) is None
    assert lookups == ["x", "x"]
    for name in ("k1", "k2", "k3", "k4"):
        cache.get(name, load)
    assert len(cache._entries) <= 3


def test_a_zero_ttl_caches_nothing() -> None:
    lookups: list[str] = []

    def load(key_hash: str) -> ApiClient | None:
        lookups.append(key_hash)
        return _client("app")

    cache = ClientCache(0, monotonic=lambda: 0.0)
    cache.get("k", load)
    cache.get("k", load)
    assert lookups == ["k", "k"]
