"""Rows <-> model for the SQL stores: one mapping function per record type, used by sqlite.py,
postgres.py and pg_bulk.py alike. Rows are read in the column order of sql_statements.py."""

from __future__ import annotations

import json
from typing import Any

from otpd.core.model import (
    Algorithm,
    CredentialRecord,
    OtpParams,
    PhenixAuth,
    Tenant,
    ThrottleState,
)

__all__ = ["credential_config", "credential_from_row", "tenant_from_row", "tenant_settings"]


def tenant_settings(tenant: Tenant) -> str:
    settings = {
        "phenixid_auth": tenant.phenixid_auth.value,
        "allowed_operations": list(tenant.allowed_operations),
        "client_cert_subjects": list(tenant.client_cert_subjects),
    }
    if tenant.issuer is not None:  # absent in rows written before issue #13
        settings["issuer"] = tenant.issuer
    return json.dumps(settings, sort_keys=True)


def tenant_from_row(row: Any) -> Tenant:
    settings = json.loads(row[1])
    return Tenant(
        id=row[0],
        phenixid_auth=PhenixAuth(settings["phenixid_auth"]),
        allowed_operations=tuple(settings["allowed_operations"]),
        client_cert_subjects=tuple(settings["client_cert_subjects"]),
        issuer=settings.get("issuer"),
        created_at=row[2],
    )


def credential_config(record: CredentialRecord) -> tuple[object, ...]:
    """The columns from name to phone, in table order."""
    p = record.params
    config = (record.name, p.algorithm.value, p.digits, p.period, p.skew, record.key_size)
    return (*config, record.issuer, record.account_name, record.email, record.phone)


def credential_from_row(row: Any) -> CredentialRecord:
    return CredentialRecord(
        id=row[0],
        tenant=row[1],
        name=row[2],
        params=OtpParams(Algorithm(row[3]), row[4], row[5], row[6]),
        key_size=row[7],
        issuer=row[8],
        account_name=row[9],
        email=row[10],
        phone=row[11],
        created_at_us=row[12],
        sealed_secret=bytes(row[13]),
        last_step=row[14],
        throttle=ThrottleState(failures=row[15], not_before=row[16], since=row[18]),
        version=row[17],
        refused=row[19],
        state=row[20],
    )
