-- Attempts against names that do not exist, per tenant (issue #3, docs/requirements.md#equal-work). The counter costs the
-- same one write as a real failure, so response times do not tell unknown users from known
-- ones; it throttles nothing (docs/requirements.md#throttling: a request naming no credential changes no credential).
ALTER TABLE tenant ADD COLUMN unknown_attempts INTEGER NOT NULL DEFAULT 0;
