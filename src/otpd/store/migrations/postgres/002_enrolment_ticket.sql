-- 002 for PostgreSQL: Token2 enrolment tickets, as ../002_enrolment_ticket.sql.

CREATE TABLE enrolment_ticket (
    ticket_hash   TEXT NOT NULL PRIMARY KEY,  -- SHA-256 hex of the ticket
    tenant        TEXT NOT NULL,
    credential_id BIGINT NOT NULL REFERENCES credential (id) ON DELETE CASCADE,
    expires_at_us BIGINT NOT NULL
);

CREATE INDEX enrolment_ticket_expiry ON enrolment_ticket (expires_at_us);

CREATE INDEX enrolment_ticket_credential ON enrolment_ticket (credential_id);
