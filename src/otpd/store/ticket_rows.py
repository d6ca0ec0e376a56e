"""Enrolment tickets in SQL, shared by the SQLite and PostgreSQL stores, as radius_rows.py shares
the NAS tables (plumbing: sql_rows.SqlHost): Token2's (issue #5) and the console's self-service
links (issue #16), whose credential is `pending` until its first code."""

from __future__ import annotations

from dataclasses import astuple

from otpd.core.enrolment import EnrolmentTicket
from otpd.core.errors import NotFound
from otpd.store.sql_rows import SqlHost

__all__ = ["SqlTicketRows"]


class SqlTicketRows(SqlHost):
    """For a SQL store (sql_rows.SqlHost)."""

    def insert_enrolment_ticket(self, ticket: EnrolmentTicket) -> None:
        # INSERT ... SELECT: a credential of another tenant reads as missing, like a deleted one.
        inserted = self._change(
            self._sql(
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
        rows = self._named(
            self._sql(
                "SELECT ticket_hash, tenant, credential_id, expires_at_us FROM enrolment_ticket"
                " WHERE ticket_hash = ?"
            ),
            (ticket_hash,),
        )
        if not rows:
            return None
        row = rows[0]
        return EnrolmentTicket(
            ticket_hash=row["ticket_hash"],
            tenant=row["tenant"],
            credential_id=row["credential_id"],
            expires_at_us=row["expires_at_us"],
        )

    def delete_expired_enrolment_tickets(self, now_us: int) -> int:
        sql = self._sql("DELETE FROM enrolment_ticket WHERE expires_at_us <= ?")
        return self._change(sql, (now_us,), "enrolment ticket")

    def delete_enrolment_tickets(self, tenant_id: str, credential_id: int) -> int:
        sql = "DELETE FROM enrolment_ticket WHERE tenant = ? AND credential_id = ?"
        return self._change(self._sql(sql), (tenant_id, credential_id), "enrolment ticket")

    def start_enrolment(self, ticket: EnrolmentTicket) -> None:
        with self._transaction("enrolment ticket") as tx:
            pending = tx.execute(
                self._sql("UPDATE credential SET state = 'pending' WHERE id = ? AND tenant = ?"),
                (ticket.credential_id, ticket.tenant),
            )
            if pending.rowcount != 1:
                raise NotFound("no such credential")  # rolls the transaction back
            tx.execute(
                self._sql(
                    "INSERT INTO enrolment_ticket"
                    " (ticket_hash, tenant, credential_id, expires_at_us) VALUES (?, ?, ?, ?)"
                ),
                astuple(ticket),
            )

    def finish_enrolment(self, tenant_id: str, credential_id: int) -> bool:
        with self._transaction("enrolment ticket") as tx:
            active = tx.execute(
                self._sql(
                    "UPDATE credential SET state = 'active'"
                    " WHERE id = ? AND tenant = ? AND state = 'pending'"
                ),
                (credential_id, tenant_id),
            )
            if active.rowcount != 1:
                return False
            tx.execute(
                self._sql("DELETE FROM enrolment_ticket WHERE tenant = ? AND credential_id = ?"),
                (tenant_id, credential_id),
            )
        return True
