"""The audit trail's table (issue #13) for the SQL and memory stores: otpd.core.ports.AuditStore.

Mixins like radius_rows.py, using the host store's plumbing (sql_rows.SqlHost).
An append reads the chain head and moves it in one write transaction (SQLite: BEGIN
IMMEDIATE holds the write lock; PostgreSQL: the head row is locked FOR UPDATE), so appends
from several instances on one database stay one linear chain.

`count_throttled` lives here too: the metrics' gauge of throttled credentials (issue #13).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from otpd.core.audit import GENESIS, AuditEntry, AuditQuery, chain_hash
from otpd.store.sql_rows import NamedRow, SqlHost, named_rows

__all__ = ["MemoryAuditRows", "SqlAuditRows"]

_COLUMNS = (
    "seq, time_us, tenant, caller, source, request_id, action, target, outcome, prev_hash, hash"
)
_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_INSERT = (
    "INSERT INTO audit (seq, time_us, tenant, caller, source, request_id, action, target, "
    "outcome, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def _entry(row: NamedRow) -> AuditEntry:
    return AuditEntry(
        seq=int(row["seq"]),
        time_us=int(row["time_us"]),
        tenant=row["tenant"],
        caller=row["caller"],
        source=row["source"],
        request_id=row["request_id"],
        action=row["action"],
        target=row["target"],
        outcome=row["outcome"],
        prev_hash=row["prev_hash"],
        hash=row["hash"],
    )


def _row(e: AuditEntry) -> tuple[object, ...]:
    return (
        e.seq,
        e.time_us,
        e.tenant,
        e.caller,
        e.source,
        e.request_id,
        e.action,
        e.target,
        e.outcome,
        e.prev_hash,
        e.hash,
    )


def _linked(entry: AuditEntry, head_seq: int, head_hash: str) -> AuditEntry:
    seq = head_seq + 1
    return replace(entry, seq=seq, prev_hash=head_hash, hash=chain_hash(head_hash, seq, entry))


def _where(query: AuditQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    for column, value in (
        ("tenant", query.tenant),
        ("action", query.action),
        ("outcome", query.outcome),
        ("target", query.target),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if query.since_us is not None:
        clauses.append("time_us >= ?")
        params.append(query.since_us)
    if query.until_us is not None:
        clauses.append("time_us < ?")
        params.append(query.until_us)
    if query.before_seq is not None:
        clauses.append("seq < ?")
        params.append(query.before_seq)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


# "Throttled at now" as core.policy.is_throttled: since <= now < not_before. One pass over
# the credential table per scrape (no index: not_before is written on every failure); at most
# _MAX_COUNTED rows are counted, so the answer's size and the grouping stay bounded.
_MAX_COUNTED = 1_000_000
_THROTTLED = (
    "SELECT tenant, COUNT(*) AS throttled FROM (SELECT tenant FROM credential"
    " WHERE not_before > ? AND throttled_at <= ? LIMIT ?) AS throttled GROUP BY tenant"
)


class SqlAuditRows(SqlHost):
    """For a SQL store (sql_rows.SqlHost)."""

    _head_lock = ""  # PostgreSQL: " FOR UPDATE"

    def append_audit_batch(self, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
        """Link and store `entries` in order, in one transaction (one commit for many)."""
        sql = self._sql
        with self._transaction("audit") as tx:
            head = named_rows(tx.execute(sql(_HEAD + self._head_lock)))[0]
            seq, last = int(head["seq"]), head["hash"]
            linked_all = []
            for entry in entries:
                linked = _linked(entry, seq, last)
                seq, last = linked.seq, linked.hash
                linked_all.append(linked)
            tx.executemany(sql(_INSERT), [_row(linked) for linked in linked_all])
            tx.execute(sql("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"), (seq, last))
        return linked_all

    def list_audit(self, query: AuditQuery) -> list[AuditEntry]:
        where, params = _where(query)
        limit = ""
        if query.limit is not None:
            limit = " LIMIT ?"
            params.append(query.limit)
        # Only fixed column names are put together here; every value is a parameter.
        order = " DESC" if query.newest_first else ""
        sql = f"SELECT {_COLUMNS} FROM audit{where} ORDER BY seq{order}{limit}"  # noqa: S608
        return [_entry(row) for row in self._named(self._sql(sql), params)]

    def audit_head(self) -> tuple[int, str] | None:
        rows = self._named(_HEAD)
        if not rows or int(rows[0]["seq"]) == 0:
            return None
        return int(rows[0]["seq"]), str(rows[0]["hash"])

    def prune_audit(self, before_us: int) -> int:
        """Delete entries older than `before_us` (retention), always keeping the newest, so
        the trail still ends at its head and `otpd audit verify` stays meaningful."""
        sql = "DELETE FROM audit WHERE time_us < ? AND seq < (SELECT seq FROM audit_head)"
        return self._change(self._sql(sql), (before_us,), "audit")

    def count_throttled(self, now_s: int) -> dict[str, int]:
        """Credentials throttled or locked at `now_s` (Unix seconds), by tenant; tenants with
        none are absent."""
        rows = self._named(self._sql(_THROTTLED), (now_s, now_s, _MAX_COUNTED))
        return {str(row["tenant"]): int(row["throttled"]) for row in rows}


class MemoryAuditRows:
    _lock: threading.Lock
    _credentials: dict[int, Any]

    def _audit(self) -> list[AuditEntry]:
        rows: list[AuditEntry] | None = self.__dict__.get("_audit_rows")
        if rows is None:
            rows = self.__dict__["_audit_rows"] = []
            self.__dict__["_audit_head"] = (0, GENESIS)
        return rows

    def append_audit_batch(self, entries: Sequence[AuditEntry]) -> list[AuditEntry]:
        with self._lock:
            rows = self._audit()
            linked_all = []
            for entry in entries:
                linked = _linked(entry, *self.__dict__["_audit_head"])
                rows.append(linked)
                linked_all.append(linked)
                self.__dict__["_audit_head"] = (linked.seq, linked.hash)
            return linked_all

    def list_audit(self, query: AuditQuery) -> list[AuditEntry]:
        with self._lock:
            found = [
                e
                for e in self._audit()
                if query.tenant in (None, e.tenant)
                and query.action in (None, e.action)
                and query.outcome in (None, e.outcome)
                and query.target in (None, e.target)
                and (query.since_us is None or e.time_us >= query.since_us)
                and (query.until_us is None or e.time_us < query.until_us)
                and (query.before_seq is None or e.seq < query.before_seq)
            ]
        if query.newest_first:
            found.reverse()
        return found[: query.limit] if query.limit is not None else found

    def audit_head(self) -> tuple[int, str] | None:
        with self._lock:
            self._audit()
            head: tuple[int, str] = self.__dict__["_audit_head"]
            return None if head[0] == 0 else head

    def prune_audit(self, before_us: int) -> int:
        with self._lock:
            rows = self._audit()
            newest = rows[-1].seq if rows else 0
            kept = [e for e in rows if e.time_us >= before_us or e.seq == newest]
            removed = len(rows) - len(kept)
            rows[:] = kept
            return removed

    def count_throttled(self, now_s: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self._lock:
            for record in self._credentials.values():
                throttle = record.throttle
                if throttle.since <= now_s < throttle.not_before:
                    counts[record.tenant] = counts.get(record.tenant, 0) + 1
        return counts
