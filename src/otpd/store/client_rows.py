"""API clients and their bearer tokens for the SQL and memory stores: creation and look-up,
the lifecycle of issue #14 (revoke, rotate, scopes, coarse last-used), and a bearer token looked
up together with its client.

Mixins, as radius_rows.py, so sqlite.py and postgres.py share one copy; they use the host
store's plumbing (sql_rows.SqlHost). Docs: docs/operations.md#api-clients-list-rotate-revoke.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import astuple, replace

from otpd.core.errors import AlreadyExists, NotFound
from otpd.core.model import ApiClient, Scope, TokenRecord
from otpd.store.sql_rows import NamedRow, SqlHost, record_from_row
from otpd.store.sql_statements import BY_KEY, CLIENT

__all__ = ["MemoryClientRows", "SqlClientRows", "client_from_row", "token_from_row"]

# A token's columns, then its client's but its tenant (the join makes it the token's): one
# row, which token_from_row and client_from_row both read by name.
_BEARER_AND_CLIENT = (
    "SELECT t.token_hash, t.accessor, t.tenant, t.client, t.created_at_us, t.renewed_at_us,"
    " t.expires_at_us, t.client_key_hash, c.name, c.scopes, c.key_hash, c.created_at,"
    " c.previous_key_hash, c.previous_key_expires_at_us, c.last_used_at_us"
    " FROM token t JOIN api_client c ON c.tenant = t.tenant AND c.name = t.client"
    " WHERE t.token_hash = ?"
)
# The previous key is kept (with its expiry) or dropped; `?` is the expiry, NULL to drop.
# SET's right-hand sides read the row as it was, so `previous_key_hash = key_hash` keeps the
# outgoing key; a key replaced before its grace ended is gone at once.
_ROTATE = (
    "UPDATE api_client SET previous_key_hash = CASE WHEN ? IS NULL THEN NULL ELSE key_hash END,"
    " previous_key_expires_at_us = COALESCE(?, 0), key_hash = ? WHERE tenant = ? AND name = ?"
)
# After a rotation only tokens of the kept previous key can live: the new key has none yet.
_DEAD_TOKENS = (
    "DELETE FROM token WHERE tenant = ? AND client = ? AND NOT EXISTS (SELECT 1 FROM api_client c"
    " WHERE c.tenant = token.tenant AND c.name = token.client"
    " AND c.previous_key_hash = token.client_key_hash)"
)


def client_from_row(row: NamedRow) -> ApiClient:
    """sql_statements.CLIENT's columns, by name."""
    return ApiClient(
        tenant=row["tenant"],
        name=row["name"],
        scopes=frozenset(Scope(s) for s in row["scopes"].split(",") if s),
        key_hash=row["key_hash"],
        created_at=row["created_at"],
        previous_key_hash=row["previous_key_hash"],
        previous_key_expires_at_us=row["previous_key_expires_at_us"],
        last_used_at_us=row["last_used_at_us"],
    )


def token_from_row(row: NamedRow) -> TokenRecord:
    """The token table's columns, by name."""
    return record_from_row(TokenRecord, row)


def scopes_text(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(scopes))


class SqlClientRows(SqlHost):
    """For a SQL store (sql_rows.SqlHost); `_byte_order` as in record_rows.SqlRecordRows."""

    _byte_order = ""

    def create_client(self, client: ApiClient) -> None:
        # INSERT ... SELECT so a missing tenant reads as NotFound even when the key hash
        # clashes with another tenant's client, as in MemoryStore.
        c = client
        inserted = self._change(
            self._sql(
                "INSERT INTO api_client (tenant, name, scopes, key_hash, created_at)"
                " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tenant WHERE id = ?)"
            ),
            (c.tenant, c.name, scopes_text(c.scopes), c.key_hash, c.created_at, c.tenant),
            "client",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def find_client_by_key_hash(self, key_hash: str) -> ApiClient | None:
        rows = self._named(self._sql(CLIENT + BY_KEY), (key_hash, key_hash))
        return client_from_row(rows[0]) if rows else None

    def list_clients(self, tenant_id: str) -> list[ApiClient]:
        sql = self._sql(CLIENT + "WHERE tenant = ? ORDER BY name" + self._byte_order)
        return [client_from_row(row) for row in self._named(sql, (tenant_id,))]

    def get_client(self, tenant_id: str, name: str) -> ApiClient | None:
        sql = self._sql(CLIENT + "WHERE tenant = ? AND name = ?")
        rows = self._named(sql, (tenant_id, name))
        return client_from_row(rows[0]) if rows else None

    # --- bearer tokens -------------------------------------------------------------------
    def insert_token(self, token: TokenRecord) -> None:
        sql = (
            "INSERT INTO token (token_hash, accessor, tenant, client, created_at_us,"
            " renewed_at_us, expires_at_us, client_key_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._change(self._sql(sql), astuple(token), "token")  # in TokenRecord field order

    def get_token_with_client(self, token_hash: str) -> tuple[TokenRecord, ApiClient] | None:
        # One statement: the join also proves the client still exists (a revoked client's
        # tokens are deleted with it, and would not join if one were left).
        rows = self._named(self._sql(_BEARER_AND_CLIENT), (token_hash,))
        if not rows:
            return None
        return token_from_row(rows[0]), client_from_row(rows[0])

    def renew_token(self, token_hash: str, renewed_at_us: int, expires_at_us: int) -> bool:
        # The expiry test is in the WHERE clause, so a renewal racing the clock cannot revive
        # an expired token.
        sql = (
            "UPDATE token SET renewed_at_us = ?, expires_at_us = ?"
            " WHERE token_hash = ? AND expires_at_us > ?"
        )
        params = (renewed_at_us, expires_at_us, token_hash, renewed_at_us)
        return self._change(self._sql(sql), params, "token") == 1

    def delete_expired_tokens(self, now_us: int) -> int:
        sql = self._sql("DELETE FROM token WHERE expires_at_us <= ?")
        return self._change(sql, (now_us,), "token")

    # --- lifecycle (issue #14) -----------------------------------------------------------
    def delete_client(self, tenant_id: str, name: str) -> bool:
        with self._transaction("client") as cur:
            cur.execute(
                self._sql("DELETE FROM token WHERE tenant = ? AND client = ?"),
                (tenant_id, name),
            )
            sql = self._sql("DELETE FROM api_client WHERE tenant = ? AND name = ?")
            return bool(cur.execute(sql, (tenant_id, name)).rowcount)

    def rotate_client_key(
        self, tenant_id: str, name: str, key_hash: str, previous_expires_at_us: int | None
    ) -> bool:
        expiry = previous_expires_at_us
        with self._transaction("client") as cur:
            params = (expiry, expiry, key_hash, tenant_id, name)
            if not cur.execute(self._sql(_ROTATE), params).rowcount:
                return False
            cur.execute(self._sql(_DEAD_TOKENS), (tenant_id, name))
            return True

    def set_client_scopes(self, tenant_id: str, name: str, scopes: frozenset[Scope]) -> bool:
        sql = "UPDATE api_client SET scopes = ? WHERE tenant = ? AND name = ?"
        params = (scopes_text(scopes), tenant_id, name)
        return bool(self._change(self._sql(sql), params, "client"))

    def touch_client(self, tenant_id: str, name: str, now_us: int, stale_before_us: int) -> bool:
        # Conditional: of the instances that see a stale value at once, one writes.
        sql = (
            "UPDATE api_client SET last_used_at_us = ?"
            " WHERE tenant = ? AND name = ? AND last_used_at_us < ?"
        )
        params = (now_us, tenant_id, name, stale_before_us)
        return bool(self._change(self._sql(sql), params, "client"))


class MemoryClientRows:
    """The same contract for otpd.store.memory.MemoryStore, under its one lock."""

    _lock: threading.Lock
    _clients: dict[tuple[str, str], ApiClient]
    _tokens: dict[str, TokenRecord]

    def get_token_with_client(self, token_hash: str) -> tuple[TokenRecord, ApiClient] | None:
        with self._lock:
            token = self._tokens.get(token_hash)
            client = self._clients.get((token.tenant, token.client)) if token else None
        return (token, client) if token is not None and client is not None else None

    def delete_client(self, tenant_id: str, name: str) -> bool:
        with self._lock:
            self._drop_tokens(tenant_id, name, keep=None)
            return self._clients.pop((tenant_id, name), None) is not None

    def rotate_client_key(
        self, tenant_id: str, name: str, key_hash: str, previous_expires_at_us: int | None
    ) -> bool:
        with self._lock:
            client = self._clients.get((tenant_id, name))
            if client is None:
                return False
            if any(c.key_hash == key_hash for c in self._clients.values()):
                raise AlreadyExists("client exists")
            kept = None if previous_expires_at_us is None else client.key_hash
            self._clients[tenant_id, name] = replace(
                client,
                key_hash=key_hash,
                previous_key_hash=kept,
                previous_key_expires_at_us=previous_expires_at_us or 0,
            )
            self._drop_tokens(tenant_id, name, keep=kept)
            return True

    def set_client_scopes(self, tenant_id: str, name: str, scopes: frozenset[Scope]) -> bool:
        with self._lock:
            client = self._clients.get((tenant_id, name))
            if client is None:
                return False
            self._clients[tenant_id, name] = replace(client, scopes=scopes)
            return True

    def touch_client(self, tenant_id: str, name: str, now_us: int, stale_before_us: int) -> bool:
        with self._lock:
            client = self._clients.get((tenant_id, name))
            if client is None or client.last_used_at_us >= stale_before_us:
                return False
            self._clients[tenant_id, name] = replace(client, last_used_at_us=now_us)
            return True

    def _drop_tokens(self, tenant_id: str, name: str, keep: str | None) -> None:
        for token_hash in list(self._client_tokens(tenant_id, name)):
            if keep is None or self._tokens[token_hash].client_key_hash != keep:
                del self._tokens[token_hash]

    def _client_tokens(self, tenant_id: str, name: str) -> Iterator[str]:
        for token_hash, token in self._tokens.items():
            if token.tenant == tenant_id and token.client == name:
                yield token_hash
