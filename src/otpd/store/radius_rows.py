"""The RADIUS tables (issue #15) for the SQL and memory stores: otpd.core.ports.NasStore.

Mixins, so the RADIUS front-end adds its few methods without growing the store modules; they
use the host store's own plumbing (sql_rows.SqlHost, or `_lock` in memory).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from otpd.core.errors import AlreadyExists, NotFound
from otpd.core.model import CredentialRecord, Tenant
from otpd.core.nas import MaPolicy, NasClient, NasMode, RadiusChallenge
from otpd.store.sql_rows import NamedRow, SqlHost

__all__ = ["MemoryRadiusRows", "SqlRadiusRows"]

_NAS = "SELECT tenant, name, networks, secret, settings, ma_seen, created_at FROM radius_nas "


def _settings(nas: NasClient) -> str:
    return json.dumps(
        {
            "mode": nas.mode.value,
            "message_authenticator": nas.message_authenticator.value,
            "strip_realm": nas.strip_realm,
            "reply_attributes": [list(pair) for pair in nas.reply_attributes],
            "group_attribute": nas.group_attribute,
            "ldap_url": nas.ldap_url,
            "ldap_bind_dn": nas.ldap_bind_dn,
        },
        sort_keys=True,
    )


def _nas(row: NamedRow) -> NasClient:
    settings = json.loads(row["settings"])
    return NasClient(
        tenant=row["tenant"],
        name=row["name"],
        networks=tuple(json.loads(row["networks"])),
        sealed_secret=bytes(row["secret"]),
        mode=NasMode(settings["mode"]),
        message_authenticator=MaPolicy(settings["message_authenticator"]),
        strip_realm=bool(settings["strip_realm"]),
        reply_attributes=tuple((str(k), str(v)) for k, v in settings["reply_attributes"]),
        group_attribute=settings["group_attribute"],
        ldap_url=settings["ldap_url"],
        ldap_bind_dn=settings["ldap_bind_dn"],
        ma_seen=bool(row["ma_seen"]),
        created_at=row["created_at"],
    )


class SqlRadiusRows(SqlHost):
    """For a SQL store (sql_rows.SqlHost). Nothing here is specific to one dialect."""

    def _nas_rows(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        return self._named(self._sql(sql), params)

    def _nas_write(self, sql: str, params: Sequence[object], what: str) -> int:
        return self._change(self._sql(sql), params, what)

    def insert_nas(self, nas: NasClient) -> None:
        inserted = self._nas_write(
            "INSERT INTO radius_nas (tenant, name, networks, secret, settings, ma_seen,"
            " created_at) SELECT ?, ?, ?, ?, ?, ?, ? WHERE EXISTS"
            " (SELECT 1 FROM tenant WHERE id = ?)",
            (*_nas_row(nas), nas.tenant),
            "NAS",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def replace_nas(self, nas: NasClient) -> bool:
        sql = (
            "UPDATE radius_nas SET networks = ?, secret = ?, settings = ?"
            " WHERE tenant = ? AND name = ?"
        )
        params = (json.dumps(nas.networks), nas.sealed_secret, _settings(nas), nas.tenant, nas.name)
        return bool(self._nas_write(sql, params, "NAS"))

    def list_nas(self, tenant_id: str | None = None) -> list[NasClient]:
        if tenant_id is None:
            return [_nas(row) for row in self._nas_rows(_NAS + "ORDER BY tenant, name")]
        rows = self._nas_rows(_NAS + "WHERE tenant = ? ORDER BY name", (tenant_id,))
        return [_nas(row) for row in rows]

    def delete_nas(self, tenant_id: str, name: str) -> bool:
        sql = "DELETE FROM radius_nas WHERE tenant = ? AND name = ?"
        return bool(self._nas_write(sql, (tenant_id, name), "NAS"))

    def mark_nas_message_authenticator(self, tenant_id: str, name: str) -> None:
        sql = "UPDATE radius_nas SET ma_seen = 1 WHERE tenant = ? AND name = ? AND ma_seen = 0"
        self._nas_write(sql, (tenant_id, name), "NAS")

    def insert_radius_challenge(self, challenge: RadiusChallenge) -> None:
        sql = (
            "INSERT INTO radius_challenge (state_hash, tenant, nas, user_name, expires_at_us)"
            " VALUES (?, ?, ?, ?, ?)"
        )
        c = challenge
        self._nas_write(sql, (c.state_hash, c.tenant, c.nas, c.user, c.expires_at_us), "challenge")

    def take_radius_challenge(self, state_hash: str, now_us: int) -> RadiusChallenge | None:
        # One DELETE ... RETURNING: of two instances taking one State, one gets the row.
        sql = (
            "DELETE FROM radius_challenge WHERE state_hash = ? AND expires_at_us > ?"
            " RETURNING tenant, nas, user_name, expires_at_us"
        )
        # The host's lock for its writers, if it has one (SQLite queues them in-process).
        with getattr(self, "_write_lock", contextlib.nullcontext()):
            rows = self._nas_rows(sql, (state_hash, now_us))
        if not rows:
            return None
        row = rows[0]
        return RadiusChallenge(
            state_hash, row["tenant"], row["nas"], row["user_name"], row["expires_at_us"]
        )

    def delete_expired_radius_challenges(self, now_us: int) -> int:
        sql = "DELETE FROM radius_challenge WHERE expires_at_us <= ?"
        return self._nas_write(sql, (now_us,), "challenge")

    def set_radius_group(self, tenant_id: str, credential: str, label: str | None) -> bool:
        found = self._nas_rows(
            "SELECT id FROM credential WHERE tenant = ? AND name = ?", (tenant_id, credential)
        )
        if not found:
            return False
        credential_id = found[0]["id"]
        if label is None:
            sql = "DELETE FROM radius_group WHERE credential_id = ?"
            self._nas_write(sql, (credential_id,), "group")
        else:
            sql = (
                "INSERT INTO radius_group (credential_id, label) VALUES (?, ?)"
                " ON CONFLICT (credential_id) DO UPDATE SET label = excluded.label"
            )
            self._nas_write(sql, (credential_id, label), "group")
        return True

    def get_radius_group(self, tenant_id: str, credential: str) -> str | None:
        rows = self._nas_rows(
            "SELECT g.label FROM radius_group g JOIN credential c ON c.id = g.credential_id"
            " WHERE c.tenant = ? AND c.name = ?",
            (tenant_id, credential),
        )
        return str(rows[0]["label"]) if rows else None


def _nas_row(nas: NasClient) -> tuple[object, ...]:
    networks = json.dumps(nas.networks)
    return (nas.tenant, nas.name, networks, nas.sealed_secret, _settings(nas), 0, nas.created_at)


class MemoryRadiusRows:
    """The same contract for otpd.store.memory.MemoryStore, under its one lock."""

    _lock: threading.Lock
    _tenants: dict[str, Tenant]
    _credentials: dict[int, CredentialRecord]

    def _radius(self) -> dict[str, Any]:
        tables: dict[str, Any] | None = getattr(self, "_radius_tables", None)
        if tables is None:
            tables = {"nas": {}, "challenge": {}, "group": {}}
            self._radius_tables = tables
        return tables

    def insert_nas(self, nas: NasClient) -> None:
        with self._lock:
            if nas.tenant not in self._tenants:
                raise NotFound("no such tenant")
            table = self._radius()["nas"]
            if (nas.tenant, nas.name) in table:
                raise AlreadyExists("NAS exists")
            table[nas.tenant, nas.name] = replace(nas, ma_seen=False)

    def replace_nas(self, nas: NasClient) -> bool:
        with self._lock:
            table = self._radius()["nas"]
            old = table.get((nas.tenant, nas.name))
            if old is None:
                return False
            table[nas.tenant, nas.name] = replace(
                nas, ma_seen=old.ma_seen, created_at=old.created_at
            )
            return True

    def list_nas(self, tenant_id: str | None = None) -> list[NasClient]:
        with self._lock:
            rows = self._radius()["nas"].values()
            return sorted(
                (n for n in rows if tenant_id in (None, n.tenant)), key=lambda n: (n.tenant, n.name)
            )

    def delete_nas(self, tenant_id: str, name: str) -> bool:
        with self._lock:
            return self._radius()["nas"].pop((tenant_id, name), None) is not None

    def mark_nas_message_authenticator(self, tenant_id: str, name: str) -> None:
        with self._lock:
            table = self._radius()["nas"]
            if (tenant_id, name) in table:
                table[tenant_id, name] = replace(table[tenant_id, name], ma_seen=True)

    def insert_radius_challenge(self, challenge: RadiusChallenge) -> None:
        with self._lock:
            self._radius()["challenge"][challenge.state_hash] = challenge

    def take_radius_challenge(self, state_hash: str, now_us: int) -> RadiusChallenge | None:
        with self._lock:
            found: RadiusChallenge | None = self._radius()["challenge"].pop(state_hash, None)
            return found if found is not None and found.expires_at_us > now_us else None

    def delete_expired_radius_challenges(self, now_us: int) -> int:
        with self._lock:
            table = self._radius()["challenge"]
            gone = [k for k, c in table.items() if c.expires_at_us <= now_us]
            for key in gone:
                del table[key]
            return len(gone)

    def set_radius_group(self, tenant_id: str, credential: str, label: str | None) -> bool:
        with self._lock:
            record = self._find(tenant_id, credential)
            if record is None:
                return False
            groups = self._radius()["group"]
            if label is None:
                groups.pop(record.id, None)
            else:
                groups[record.id] = label
            return True

    def get_radius_group(self, tenant_id: str, credential: str) -> str | None:
        with self._lock:
            record = self._find(tenant_id, credential)
            if record is None:
                return None
            label: str | None = self._radius()["group"].get(record.id)
            return label

    def _find(self, tenant_id: str, name: str) -> CredentialRecord | None:
        for record in self._credentials.values():
            if record.tenant == tenant_id and record.name == name:
                return record
        return None
