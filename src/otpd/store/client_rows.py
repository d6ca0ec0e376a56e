"""API client lifecycle for the SQL and memory stores (issue #14): revoke, rotate, scopes,
coarse last-used, and a bearer token looked up together with its client.

Mixins, as radius_rows.py, so the lifecycle adds its few methods without growing the store
modules; they use the host store's own plumbing (`_query`, `_change`, `_transaction`).
Docs: docs/operations.md#api-clients-list-rotate-revoke.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from otpd.core.errors import AlreadyExists
from otpd.core.model import ApiClient, Scope, TokenRecord

__all__ = ["MemoryClientRows", "SqlClientRows", "client_from_row"]

# A token's columns (TokenRecord's field order), then its client's (as sqlite._CLIENT).
_BEARER_AND_CLIENT = (
    "SELECT t.token_hash, t.accessor, t.tenant, t.client, t.created_at_us, t.renewed_at_us,"
    " t.expires_at_us, t.client_key_hash, c.tenant, c.name, c.scopes, c.key_hash, c.created_at,"
    " c.previous_key_hash, c.previous_key_expires_at_us, c.last_used_at_us"
    " FROM token t JOIN api_client c ON c.tenant = t.tenant AND c.name = t.client"
    " WHERE t.token_hash = ?"
)
_TOKEN_FIELDS = 8
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


def client_from_row(row: Sequence[Any]) -> ApiClient:
    scopes = frozenset(Scope(s) for s in row[2].split(",") if s)
    return ApiClient(
        tenant=row[0],
        name=row[1],
        scopes=scopes,
        key_hash=row[3],
        created_at=row[4],
        previous_key_hash=row[5],
        previous_key_expires_at_us=row[6],
        last_used_at_us=row[7],
    )


def scopes_text(scopes: Iterable[Scope]) -> str:
    return ",".join(sorted(scopes))


class SqlClientRows:
    """For a SQL store with `_query`, `_change` and `_transaction` (sqlite.py, postgres.py);
    statements use `?` placeholders, which `_client_sql` translates for another driver."""

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        raise NotImplementedError  # the host store's

    def _change(self, sql: str, params: Sequence[object], what: str) -> int:
        raise NotImplementedError  # the host store's

    def _transaction(self, what: str) -> AbstractContextManager[Any]:
        # The host's: it yields sqlite3's connection or psycopg's cursor, whose execute()
        # both return a cursor with a rowcount.
        raise NotImplementedError

    @staticmethod
    def _client_sql(sql: str) -> str:
        return sql

    def get_token_with_client(self, token_hash: str) -> tuple[TokenRecord, ApiClient] | None:
        # One statement: the join also proves the client still exists (a revoked client's
        # tokens are deleted with it, and would not join if one were left).
        rows = self._query(self._client_sql(_BEARER_AND_CLIENT), (token_hash,))
        if not rows:
            return None
        row = rows[0]
        return TokenRecord(*row[:_TOKEN_FIELDS]), client_from_row(row[_TOKEN_FIELDS:])

    def delete_client(self, tenant_id: str, name: str) -> bool:
        with self._transaction("client") as cur:
            cur.execute(
                self._client_sql("DELETE FROM token WHERE tenant = ? AND client = ?"),
                (tenant_id, name),
            )
            sql = self._client_sql("DELETE FROM api_client WHERE tenant = ? AND name = ?")
            return bool(cur.execute(sql, (tenant_id, name)).rowcount)

    def rotate_client_key(
        self, tenant_id: str, name: str, key_hash: str, previous_expires_at_us: int | None
    ) -> bool:
        expiry = previous_expires_at_us
        with self._transaction("client") as cur:
            params = (expiry, expiry, key_hash, tenant_id, name)
            if not cur.execute(self._client_sql(_ROTATE), params).rowcount:
                return False
            cur.execute(self._client_sql(_DEAD_TOKENS), (tenant_id, name))
            return True

    def set_client_scopes(self, tenant_id: str, name: str, scopes: frozenset[Scope]) -> bool:
        sql = "UPDATE api_client SET scopes = ? WHERE tenant = ? AND name = ?"
        params = (scopes_text(scopes), tenant_id, name)
        return bool(self._change(self._client_sql(sql), params, "client"))

    def touch_client(self, tenant_id: str, name: str, now_us: int, stale_before_us: int) -> bool:
        # Conditional: of the instances that see a stale value at once, one writes.
        sql = (
            "UPDATE api_client SET last_used_at_us = ?"
            " WHERE tenant = ? AND name = ? AND last_used_at_us < ?"
        )
        params = (now_us, tenant_id, name, stale_before_us)
        return bool(self._change(self._client_sql(sql), params, "client"))


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
