-- 003 for PostgreSQL: attempts against unknown names, per tenant, as ../003.
ALTER TABLE tenant ADD COLUMN unknown_attempts BIGINT NOT NULL DEFAULT 0;
