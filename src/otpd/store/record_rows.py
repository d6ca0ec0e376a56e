"""Tenants, credential configuration and small named values: the methods SQLite and PostgreSQL
run with the same SQL (sql_statements.py), as one mixin, so the two stores cannot drift apart.

The verification writes (advance, record_failure, ...) stay in each store: SQLite group-commits
them, PostgreSQL does not (docs/performance.md). Placeholders go through the host's `_sql`.
"""

from __future__ import annotations

from dataclasses import astuple

from otpd.core.errors import NotFound
from otpd.core.model import CredentialRecord, Tenant
from otpd.store.sql_rows import (
    SqlHost,
    credential_config,
    credential_from_row,
    tenant_from_row,
    tenant_settings,
)
from otpd.store.sql_statements import (
    CREDENTIAL,
    REPLACE,
    REPLACE_AND_RESET,
    TENANT,
)

__all__ = ["SqlRecordRows"]

# INSERT ... SELECT, so a missing tenant reads as NotFound (as in MemoryStore). The casts give
# PostgreSQL a type for a NULL email or phone, which a SELECT list cannot infer.
_INSERT_IF_TENANT = (
    "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew, key_size,"
    " issuer, account_name, email, phone, created_at_us, secret, last_step, failures,"
    " not_before, throttled_at, refused) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
    " CAST(? AS TEXT), CAST(? AS TEXT), ?, ?, ?, ?, ?, ?, ? WHERE EXISTS"
    " (SELECT 1 FROM tenant WHERE id = ?)"
)


class SqlRecordRows(SqlHost):
    # Names sort by their bytes on both stores: SQLite's BINARY collation, PostgreSQL's "C".
    _byte_order = ""

    # --- tenants -------------------------------------------------------------------------
    def create_tenant(self, tenant: Tenant) -> None:
        self._change(
            self._sql("INSERT INTO tenant (id, settings, created_at) VALUES (?, ?, ?)"),
            (tenant.id, tenant_settings(tenant), tenant.created_at),
            "tenant",
        )

    def update_tenant(self, tenant: Tenant) -> None:
        changed = self._change(
            self._sql("UPDATE tenant SET settings = ?, created_at = ? WHERE id = ?"),
            (tenant_settings(tenant), tenant.created_at, tenant.id),
            "tenant",
        )
        if not changed:
            raise NotFound("no such tenant")

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        rows = self._named(self._sql(TENANT + "WHERE id = ?"), (tenant_id,))
        return tenant_from_row(rows[0]) if rows else None

    def list_tenants(self) -> list[Tenant]:
        rows = self._named(TENANT + "ORDER BY id" + self._byte_order)
        return [tenant_from_row(row) for row in rows]

    # --- credentials ---------------------------------------------------------------------
    def insert_credential(self, record: CredentialRecord) -> None:
        head = (record.id, record.tenant, *credential_config(record), record.created_at_us)
        state = (record.last_step, *astuple(record.throttle), record.refused)
        inserted = self._change(
            self._sql(_INSERT_IF_TENANT),
            (*head, record.sealed_secret, *state, record.tenant),
            "credential",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def replace_credential(
        self, record: CredentialRecord, *, reset_state: bool, expect_version: int | None = None
    ) -> bool:
        # One statement: the id and created_at_us stay. Without reset_state the failure
        # columns are not written, and last_step only rescaled from its current value, so a
        # concurrent advance() (on this instance or another) is never undone.
        row = (record.id, record.tenant, expect_version, expect_version)
        rescale: tuple[int, ...] = ()
        if reset_state:
            sql = REPLACE_AND_RESET
        else:
            sql, rescale = REPLACE, (record.params.period,)
        params = (*credential_config(record), record.sealed_secret, *rescale, *row)
        return bool(self._change(self._sql(sql), params, "credential"))

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None:
        sql = self._sql(CREDENTIAL + "WHERE tenant = ? AND name = ?")
        rows = self._named(sql, (tenant_id, name))
        return credential_from_row(rows[0]) if rows else None

    def get_credential_by_id(self, tenant_id: str, credential_id: int) -> CredentialRecord | None:
        # The tenant is part of the key: another tenant's id reads as missing
        # (docs/requirements.md#tenancy).
        sql = self._sql(CREDENTIAL + "WHERE id = ? AND tenant = ?")
        rows = self._named(sql, (credential_id, tenant_id))
        return credential_from_row(rows[0]) if rows else None

    def list_credentials(self, tenant_id: str) -> list[CredentialRecord]:
        sql = self._sql(CREDENTIAL + "WHERE tenant = ? ORDER BY name" + self._byte_order)
        return [credential_from_row(row) for row in self._named(sql, (tenant_id,))]

    def count_credentials(self, tenant_id: str) -> int:
        sql = self._sql("SELECT COUNT(*) FROM credential WHERE tenant = ?")
        return int(self._query(sql, (tenant_id,))[0][0])

    def delete_credential(
        self, tenant_id: str, name: str, *, expect_version: int | None = None
    ) -> bool:
        sql = "DELETE FROM credential WHERE tenant = ? AND name = ? AND (? IS NULL OR version = ?)"
        params = (tenant_id, name, expect_version, expect_version)
        return bool(self._change(self._sql(sql), params, "credential"))

    def reset_failures(self, tenant_id: str, name: str) -> bool:
        sql = (
            "UPDATE credential SET failures = 0, not_before = 0, throttled_at = 0"
            " WHERE tenant = ? AND name = ?"
        )
        return bool(self._change(self._sql(sql), (tenant_id, name), "credential"))

    # --- small named values --------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query(self._sql("SELECT value FROM meta WHERE key = ?"), (key,))
        return str(rows[0][0]) if rows else None

    def put_meta_if_absent(self, key: str, value: str) -> bool:
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
        return bool(self._change(self._sql(sql), (key, value), "meta"))
