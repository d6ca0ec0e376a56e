-- 004 for PostgreSQL: the credential row version for Strongbox If-Match, as ../004.
ALTER TABLE credential ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
