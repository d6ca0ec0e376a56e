-- 008: a placeholder on the clients branch only, for the ops branch's migration (issue #13),
-- which is merged first. Migrations are numbered without gaps; the merge deletes this file.
SELECT 1;
