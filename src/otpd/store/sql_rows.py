"""Rows <-> model for the SQL stores: one mapping function per record type, used by sqlite.py,
postgres.py and pg_bulk.py alike. Rows are read by column NAME (sqlite3.Row for SQLite,
psycopg's dict_row for PostgreSQL), so a column added to a SELECT cannot shift the others.

`SqlHost` is the plumbing every SQL mixin (the *_rows.py modules) takes from its host store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from otpd.core.model import (
    Algorithm,
    CredentialRecord,
    OtpParams,
    PhenixAuth,
    Tenant,
    ThrottleState,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "NamedRow",
    "SqlHost",
    "credential_config",
    "credential_from_row",
    "named_rows",
    "record_from_row",
    "tenant_from_row",
    "tenant_settings",
]


R = TypeVar("R", bound="DataclassInstance")


class NamedRow(Protocol):
    """A row read by column name: sqlite3.Row or a psycopg dict_row."""

    def __getitem__(self, column: str, /) -> Any: ...


class _Cursor(Protocol):
    """What sqlite3's and psycopg's cursors share (PEP 249)."""

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...


def named_rows(cursor: _Cursor) -> list[dict[str, Any]]:
    """The rest of `cursor`'s rows by column name, for a statement run inside a transaction
    (where the host hands out its raw connection or cursor, not `_named`)."""
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class SqlHost:
    """What the SQL mixins use of their host store (sqlite.SqliteStore, postgres.PostgresStore).

    Every mixin statement is written in SQLite's `?` style and passed through `_sql`, which a
    store whose driver spells placeholders otherwise overrides (pg_connect.pg_sql)."""

    @staticmethod
    def _sql(sql: str) -> str:
        return sql

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        raise NotImplementedError  # the host store's: rows as tuples

    def _named(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        raise NotImplementedError  # the host store's: rows read by column name

    def _change(self, sql: str, params: Sequence[object], what: str) -> int:
        raise NotImplementedError  # the host store's: a write's rowcount

    def _transaction(self, what: str) -> AbstractContextManager[Any]:
        # The host's: it yields sqlite3's connection or psycopg's cursor, whose execute()
        # both return a cursor with a rowcount.
        raise NotImplementedError


def record_from_row(kind: type[R], row: NamedRow) -> R:
    """A record whose fields are exactly its table's columns, each read by its name."""
    return kind(**{field.name: row[field.name] for field in fields(kind)})


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
