-- 002: Token2 enrolment tickets (issue #5, docs/api-token2.md). A ticket lets an <img> tag fetch one
-- credential's QR code for 15 minutes; it is a bearer capability, so only its SHA-256 is
-- stored. Deleting the credential deletes its tickets.

CREATE TABLE enrolment_ticket (
    ticket_hash   TEXT NOT NULL PRIMARY KEY,  -- SHA-256 hex of the ticket
    tenant        TEXT NOT NULL,
    credential_id INTEGER NOT NULL REFERENCES credential (id) ON DELETE CASCADE,
    expires_at_us INTEGER NOT NULL
);

CREATE INDEX enrolment_ticket_expiry ON enrolment_ticket (expires_at_us);

CREATE INDEX enrolment_ticket_credential ON enrolment_ticket (credential_id);  -- the cascade
