-- 009: API client lifecycle (issue #14, docs/operations.md#api-clients-list-rotate-revoke).
-- A rotation keeps the outgoing key's hash, live until previous_key_expires_at_us (one previous
-- key at a time); last_used_at_us is written at most about once a minute (0: never used).
-- A bearer token records the hash of the key that logged in, so it dies with that key; the
-- tokens already issued belong to their client's current key.
ALTER TABLE api_client ADD COLUMN previous_key_hash TEXT;

ALTER TABLE api_client ADD COLUMN previous_key_expires_at_us INTEGER NOT NULL DEFAULT 0;

ALTER TABLE api_client ADD COLUMN last_used_at_us INTEGER NOT NULL DEFAULT 0;

-- Authentication looks a key up in either column (several NULLs are allowed).
CREATE UNIQUE INDEX api_client_previous_key ON api_client (previous_key_hash);

ALTER TABLE token ADD COLUMN client_key_hash TEXT NOT NULL DEFAULT '';

UPDATE token SET client_key_hash = COALESCE(
    (SELECT c.key_hash FROM api_client c WHERE c.tenant = token.tenant AND c.name = token.client),
    ''
);

-- Revoking or rotating a client deletes its tokens.
CREATE INDEX token_client ON token (tenant, client);
