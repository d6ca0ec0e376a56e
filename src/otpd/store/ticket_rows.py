"""Token2 enrolment tickets (issue #5) in SQL, shared by the SQLite and PostgreSQL stores, as
radius_rows.py shares the NAS tables: statements use `?`, and a store whose driver wants
another placeholder style sets `_ticket_sql` to its own rewrite."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from typing import Any

from otpd.core.enrolment import EnrolmentTicket
from otpd.core.errors import NotFound

__all__ = ["SqlTicketRows"]


class SqlTicketRows:
    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        raise NotImplementedError  # the host store's

    def _change(self, sql: str, params: Sequence[object], what: str) -> int:
        raise NotImplementedError  # the host store's

    @staticmethod
    def _ticket_sql(sql: str) -> str:
        return sql

    def insert_enrolment_ticket(self, ticket: EnrolmentTicket) -> None:
        # INSERT ... SELECT: a credential of another tenant reads as missing, like a deleted one.
        inserted = self._change(
            self._ticket_sql(
                "INSERT INTO enrolment_ticket (ticket_hash, tenant, credential_id, expires_at_us)"
                " SELECT ?, ?, ?, ? WHERE EXISTS"
                " (SELECT 1 FROM credential WHERE id = ? AND tenant = ?)"
            ),
            (*astuple(ticket), ticket.credential_id, ticket.tenant),
            "enrolment ticket",
        )
        if not inserted:
            raise NotFound("no such credential")

    def get_enrolment_ticket(self, ticket_hash: str) -> EnrolmentTicket | None:
        rows = self._query(
            self._ticket_sql(
                "SELECT ticket_hash, tenant, credential_id, expires_at_us FROM enrolment_ticket"
                " WHERE ticket_hash = ?"
            ),
            (ticket_hash,),
        )
        return EnrolmentTicket(*rows[0]) if rows else None

    def delete_expired_enrolment_tickets(self, now_us: int) -> int:
        sql = self._ticket_sql("DELETE FROM enrolment_ticket WHERE expires_at_us <= ?")
        return self._change(sql, (now_us,), "enrolment ticket")

    def delete_enrolment_tickets(self, tenant_id: str, credential_id: int) -> int:
        sql = "DELETE FROM enrolment_ticket WHERE tenant = ? AND credential_id = ?"
        return self._change(self._ticket_sql(sql), (tenant_id, credential_id), "enrolment ticket")
