"""Rows <-> model for the SQL stores: one mapping function per record type, used by sqlite.py,
postgres.py and pg_bulk.py alike. Rows are read by column NAME (sqlite3.Row for SQLite,
psycopg's dict_row for PostgreSQL), so a column added to a SELECT cannot shift the others."""

from __future__ import annotations

import json
from typing import Any, Protocol

from otpd.core.model import (
    Algorithm,
    CredentialRecord,
    OtpParams,
    PhenixAuth,
    Tenant,
    ThrottleState,
)

__all__ = [
    "NamedRow",
    "credential_config",
    "credential_from_row",
    "tenant_from_row",
    "tenant_settings",
]


class NamedRow(Protocol):
    """A row read by column name: sqlite3.Row or a psycopg dict_row."""

    def __getitem__(self, column: str, /) -> Any: ...


def tenant_settings(tenant: Tenant) -> str:
    settings = {
        "phenixid_auth": tenant.phenixid_auth.value,
        "allowed_operations": list(tenant.allowed_operations),
        "client_cert_subjects": list(tenant.client_cert_subjects),
    }
    if tenant.issuer is not None:  # absent in rows written before issue #13
        settings["issuer"] = tenant.issuer
    return json.dumps(settings, sort_keys=True)


def tenant_from_row(row: NamedRow) -> Tenant:
    settings = json.loads(row["settings"])
    return Tenant(
        id=row["id"],
        phenixid_auth=PhenixAuth(settings["phenixid_auth"]),
        allowed_operations=tuple(settings["allowed_operations"]),
        client_cert_subjects=tuple(settings["client_cert_subjects"]),
        issuer=settings.get("issuer"),
        created_at=row["created_at"],
    )


def credential_config(record: CredentialRecord) -> tuple[object, ...]:
    """The columns from name to phone, in table order."""
    p = record.params
    config = (record.name, p.algorithm.value, p.digits, p.period, p.skew, record.key_size)
    return (*config, record.issuer, record.account_name, record.email, record.phone)


def credential_from_row(row: NamedRow) -> CredentialRecord:
    return CredentialRecord(
        id=row["id"],
        tenant=row["tenant"],
        name=row["name"],
        params=OtpParams(Algorithm(row["algorithm"]), row["digits"], row["period"], row["skew"]),
        key_size=row["key_size"],
        issuer=row["issuer"],
        account_name=row["account_name"],
        email=row["email"],
        phone=row["phone"],
        created_at_us=row["created_at_us"],
        sealed_secret=bytes(row["secret"]),
        last_step=row["last_step"],
        throttle=ThrottleState(
            failures=row["failures"], not_before=row["not_before"], since=row["throttled_at"]
        ),
        version=row["version"],
        refused=row["refused"],
        state=row["state"],
    )
