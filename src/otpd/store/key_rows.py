"""Key rows (issue #14, docs/operations.md#keys) for the SQL and memory stores: the tenant key
table, the compare-and-set re-encryption of sealed columns, the atomic swap of seal meta
values for a rekey, and the cascading delete of a tenant.

Mixins like radius_rows.py: they use the host store's plumbing (sql_rows.SqlHost), or `_lock`
in memory, so every backend keeps one contract (tests/store/test_key_rows.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple

from otpd.core.model import ApiClient, CredentialRecord, Tenant
from otpd.store.sql_rows import NamedRow, SqlHost

__all__ = ["MemoryKeyRows", "SealedRow", "SqlKeyRows", "TenantKeyRow"]


class TenantKeyRow(NamedTuple):
    tenant: str
    version: int
    wrapped: str  # harmless without the seal key
    created_at: int


class SealedRow(NamedTuple):
    """One sealed column: kind 'credential' (ref = id) or 'nas' (ref = name)."""

    kind: str
    tenant: str
    ref: str
    blob: bytes


class _Abort(Exception):
    """Rolls a compare-and-set transaction back."""


# Everything tenant-scoped, children first (docs/operations.md#tenants). Tables other
# branches add with a `tenant` column are listed by the merge.
_TENANT_TABLES = (
    "enrolment_ticket",
    "token",
    "radius_challenge",
    "radius_nas",
    "credential",  # radius_group rows go with their credential (ON DELETE CASCADE)
    "api_client",
    "console_admin",  # its sessions go with it (ON DELETE CASCADE)
)


def _tenant_key(row: NamedRow) -> TenantKeyRow:
    return TenantKeyRow(row["tenant"], row["version"], row["wrapped"], row["created_at"])


class SqlKeyRows(SqlHost):
    """For sqlite.py and postgres.py (sql_rows.SqlHost)."""

    def tenant_keys(self, tenant_id: str) -> list[TenantKeyRow]:
        sql = "SELECT tenant, version, wrapped, created_at FROM tenant_key WHERE tenant = ?"
        rows = self._named(self._sql(sql + " ORDER BY version"), (tenant_id,))
        return [_tenant_key(row) for row in rows]

    def all_tenant_keys(self) -> list[TenantKeyRow]:
        sql = "SELECT tenant, version, wrapped, created_at FROM tenant_key ORDER BY tenant, version"
        return [_tenant_key(row) for row in self._named(sql)]

    def add_tenant_key(self, tenant_id: str, version: int, wrapped: str, created_at: int) -> bool:
        """Insert unless that version exists: two writers racing on one version, one wins."""
        row = (tenant_id, version, wrapped, created_at)
        sql = (
            "INSERT INTO tenant_key (tenant, version, wrapped, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (tenant, version) DO NOTHING"
        )
        return bool(self._change(self._sql(sql), tuple(row), "tenant key"))

    def retire_tenant_key(self, tenant_id: str, version: int) -> bool:
        sql = "DELETE FROM tenant_key WHERE tenant = ? AND version = ?"
        return bool(self._change(self._sql(sql), (tenant_id, version), "tenant key"))

    def sealed_rows(self, after_id: int, limit: int) -> list[SealedRow]:
        """Credentials with id > after_id, in id order, then (once after_id passes them all)
        nothing: NAS rows come from nas_sealed_rows."""
        sql = "SELECT id, tenant, secret FROM credential WHERE id > ? ORDER BY id LIMIT ?"
        rows = self._named(self._sql(sql), (after_id, limit))
        return [
            SealedRow("credential", r["tenant"], str(r["id"]), bytes(r["secret"])) for r in rows
        ]

    def nas_sealed_rows(self) -> list[SealedRow]:
        rows = self._named("SELECT tenant, name, secret FROM radius_nas ORDER BY tenant, name")
        return [SealedRow("nas", r["tenant"], r["name"], bytes(r["secret"])) for r in rows]

    def reseal(self, row: SealedRow, new_blob: bytes) -> bool:
        """Compare-and-set: replaced only if the column still holds row.blob, so a concurrent
        write (already under the newest key) or another instance's re-encryption wins."""
        if row.kind == "credential":
            sql = "UPDATE credential SET secret = ? WHERE id = ? AND tenant = ? AND secret = ?"
            params: tuple[object, ...] = (new_blob, int(row.ref), row.tenant, row.blob)
        else:
            sql = "UPDATE radius_nas SET secret = ? WHERE tenant = ? AND name = ? AND secret = ?"
            params = (new_blob, row.tenant, row.ref, row.blob)
        return bool(self._change(self._sql(sql), params, "secret"))

    def swap_meta(self, changes: Mapping[str, tuple[str, str]]) -> bool:
        """Replace every meta value {key: (expected, new)} in one transaction, or none when any
        value is not the expected one (a rekey racing another rekey)."""
        sql = self._sql("UPDATE meta SET value = ? WHERE key = ? AND value = ?")
        try:
            with self._transaction("meta") as tx:
                for key, (old, new) in changes.items():
                    if tx.execute(sql, (new, key, old)).rowcount != 1:
                        raise _Abort
        except _Abort:
            return False
        return True

    def put_meta(self, key: str, value: str) -> None:
        sql = (
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        self._change(self._sql(sql), (key, value), "meta")

    def delete_meta(self, key: str) -> None:
        self._change(self._sql("DELETE FROM meta WHERE key = ?"), (key,), "meta")

    def delete_tenant(self, tenant_id: str, *, erase: bool = False) -> dict[str, int]:
        """Delete the tenant and everything it owns in one transaction; with `erase` its keys
        too (crypto-erase). Returns rows deleted per table; {} when there is no such tenant."""
        counts: dict[str, int] = {}
        tables = (*_TENANT_TABLES, "tenant_key") if erase else _TENANT_TABLES
        try:
            with self._transaction("tenant") as tx:
                self._delete_rows(tx, tenant_id, tables, counts)
        except _NoTenant:
            return {}
        return counts

    def _delete_rows(
        self, tx: Any, tenant_id: str, tables: Sequence[str], counts: dict[str, int]
    ) -> None:
        # A console admin's TOTP credential lives in the `system` tenant (docs/console.md).
        admins = self._sql(
            "DELETE FROM credential WHERE tenant = 'system'"
            " AND name IN (SELECT credential FROM console_admin WHERE tenant = ?)"
        )
        counts["admin credentials"] = tx.execute(admins, (tenant_id,)).rowcount
        for table in tables:
            # Table names come from the constants above, never from input.
            sql = self._sql(f"DELETE FROM {table} WHERE tenant = ?")  # noqa: S608
            counts[table] = tx.execute(sql, (tenant_id,)).rowcount
        gone = tx.execute(self._sql("DELETE FROM tenant WHERE id = ?"), (tenant_id,))
        if gone.rowcount != 1:
            raise _NoTenant


class _NoTenant(Exception):
    """No such tenant: the transaction is rolled back."""


class MemoryKeyRows:
    """The same contract for memory.py, under its one lock."""

    _lock: threading.Lock
    _tenants: dict[str, Tenant]
    _clients: dict[tuple[str, str], ApiClient]
    _credentials: dict[int, CredentialRecord]
    _meta: dict[str, str]

    def _keys(self) -> dict[tuple[str, int], TenantKeyRow]:
        table: dict[tuple[str, int], TenantKeyRow] | None = getattr(self, "_key_table", None)
        if table is None:
            table = {}
            self._key_table = table
        return table

    def _radius(self) -> dict[str, Any]:
        raise NotImplementedError  # MemoryRadiusRows'

    def tenant_keys(self, tenant_id: str) -> list[TenantKeyRow]:
        with self._lock:
            return sorted(r for (t, _v), r in self._keys().items() if t == tenant_id)

    def all_tenant_keys(self) -> list[TenantKeyRow]:
        with self._lock:
            return sorted(self._keys().values())

    def add_tenant_key(self, tenant_id: str, version: int, wrapped: str, created_at: int) -> bool:
        row = TenantKeyRow(tenant_id, version, wrapped, created_at)
        with self._lock:
            return self._keys().setdefault((row.tenant, row.version), row) is row

    def retire_tenant_key(self, tenant_id: str, version: int) -> bool:
        with self._lock:
            return self._keys().pop((tenant_id, version), None) is not None

    def sealed_rows(self, after_id: int, limit: int) -> list[SealedRow]:
        with self._lock:
            ids = sorted(i for i in self._credentials if i > after_id)[:limit]
            found = [self._credentials[i] for i in ids]
        return [SealedRow("credential", r.tenant, str(r.id), r.sealed_secret) for r in found]

    def nas_sealed_rows(self) -> list[SealedRow]:
        with self._lock:
            table = self._radius()["nas"]
            return [SealedRow("nas", t, n, table[t, n].sealed_secret) for t, n in sorted(table)]

    def reseal(self, row: SealedRow, new_blob: bytes) -> bool:
        with self._lock:
            if row.kind == "credential":
                record = self._credentials.get(int(row.ref))
                if record is None or record.tenant != row.tenant:
                    return False
                if record.sealed_secret != row.blob:
                    return False
                self._credentials[record.id] = replace(record, sealed_secret=new_blob)
                return True
            table = self._radius()["nas"]
            nas = table.get((row.tenant, row.ref))
            if nas is None or nas.sealed_secret != row.blob:
                return False
            table[row.tenant, row.ref] = replace(nas, sealed_secret=new_blob)
            return True

    def swap_meta(self, changes: Mapping[str, tuple[str, str]]) -> bool:
        with self._lock:
            if any(self._meta.get(k) != old for k, (old, _new) in changes.items()):
                return False
            for key, (_old, new) in changes.items():
                self._meta[key] = new
            return True

    def put_meta(self, key: str, value: str) -> None:
        with self._lock:
            self._meta[key] = value

    def delete_meta(self, key: str) -> None:
        with self._lock:
            self._meta.pop(key, None)

    def delete_tenant(self, tenant_id: str, *, erase: bool = False) -> dict[str, int]:
        with self._lock:
            if self._tenants.pop(tenant_id, None) is None:
                return {}
            getattr(self, "_unknown_attempts", {}).pop(tenant_id, None)  # a column of tenant in SQL
            counts: dict[str, int] = {}
            if erase:
                counts["tenant_key"] = _drop(self._keys(), lambda k: k[0] == tenant_id)
            doomed = {i for i, r in self._credentials.items() if r.tenant == tenant_id}
            # Console admins of the tenant, their sessions and their TOTP credentials (which
            # live in the `system` tenant, docs/console.md).
            console = getattr(self, "_console_tables", {"admin": {}, "session": {}})
            admins = {n: a for n, a in console["admin"].items() if a.tenant == tenant_id}
            totp = {a.credential for a in admins.values()}
            doomed |= {
                i for i, r in self._credentials.items() if r.tenant == "system" and r.name in totp
            }
            counts["console_admin"] = _drop(console["admin"], lambda n: n in admins)
            _drop(console["session"], lambda h: console["session"][h].admin in admins)
            _drop(self._radius()["group"], lambda i: i in doomed)
            counts["credential"] = _drop(self._credentials, lambda i: i in doomed)
            counts["api_client"] = _drop(self._clients, lambda k: k[0] == tenant_id)
            for name, table in _memory_tenant_tables(self):
                counts[name] = _drop(table, lambda k, t=table: _row_tenant(t[k]) == tenant_id)
            return counts


def _row_tenant(row: Any) -> str:
    return str(getattr(row, "tenant", ""))


def _memory_tenant_tables(store: Any) -> Iterator[tuple[str, dict[Any, Any]]]:
    yield "token", store._tokens
    yield "enrolment_ticket", store._tickets
    radius = store._radius()
    yield "radius_nas", radius["nas"]
    yield "radius_challenge", radius["challenge"]


def _drop(table: dict[Any, Any], doomed: Any) -> int:
    keys = [k for k in table if doomed(k)]
    for k in keys:
        del table[k]
    return len(keys)
