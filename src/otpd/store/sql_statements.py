"""The SQL text of the tenant, client, credential and token statements, in SQLite's `?` style.

sqlite.py and the shared mixins (record_rows.py, client_rows.py) run them through the host's
`_sql`, which postgres.py sets to pg_connect.pg_sql, so the two stores cannot drift apart
(docs/design.md#storage). The verification writes (ADVANCE, COUNT_FAILURE, SET_THROTTLE,
REFUSE, UNKNOWN_ATTEMPT) are each store's own code path but this one text.
"""

from __future__ import annotations

__all__ = [
    "ADVANCE",
    "ALLOCATE_IDS",
    "BY_KEY",
    "CLIENT",
    "COUNT_FAILURE",
    "CREDENTIAL",
    "IMPORT_REPLACE",
    "INSERT_CREDENTIAL",
    "NO_THROTTLE_CHECK",
    "REFUSE",
    "REPLACE",
    "REPLACE_AND_RESET",
    "SET_THROTTLE",
    "TENANT",
    "UNKNOWN_ATTEMPT",
]

TENANT = "SELECT id, settings, created_at FROM tenant "
CLIENT = (  # the columns client_rows.client_from_row reads
    "SELECT tenant, name, scopes, key_hash, created_at, previous_key_hash,"
    " previous_key_expires_at_us, last_used_at_us FROM api_client "
)
# A key opens its client while current, or while the grace of a rotation lasts (the core
# compares the expiry with its clock: core.access.key_is_live). Both columns are indexed.
BY_KEY = "WHERE key_hash = ? OR previous_key_hash = ?"
CREDENTIAL = (
    "SELECT id, tenant, name, algorithm, digits, period, skew, key_size, issuer, account_name,"
    " email, phone, created_at_us, secret, last_step, failures, not_before, version,"
    " throttled_at, refused, state FROM credential "
)
# `(not_before <= ? OR throttled_at > ?)` below is "not throttled at ?": core.policy's
# is_throttled, repeated inside the compare-and-sets.
_CLEAR_FAILURES = "failures = 0, not_before = 0, throttled_at = 0"

_SET_CONFIG = (
    "UPDATE credential SET name = ?, algorithm = ?, digits = ?, period = ?, skew = ?,"
    " key_size = ?, issuer = ?, account_name = ?, email = ?, phone = ?, secret = ?,"
    " version = version + 1"
)
# `? IS NULL OR version = ?`: an unconditional write, or a compare-and-set on the version.
_WHERE_ROW = " WHERE id = ? AND tenant = ? AND (? IS NULL OR version = ?)"
# core.policy.rescale_step in SQL: the right-hand sides of SET read the row as it was, so
# `period` is the old period and `?` the new one. An unchanged period leaves last_step as is.
_RESCALE = (
    ", last_step = CASE WHEN last_step < 0 THEN last_step"
    " ELSE ((last_step + 1) * period - 1) / ? END"
)
REPLACE = _SET_CONFIG + _RESCALE + _WHERE_ROW
REPLACE_AND_RESET = _SET_CONFIG + ", last_step = -1, " + _CLEAR_FAILURES + _WHERE_ROW
REFUSE = "UPDATE credential SET refused = refused + 1 WHERE id = ?"
ADVANCE = (
    "UPDATE credential SET last_step = ?, failures = 0, not_before = 0, throttled_at = 0"
    " WHERE id = ? AND last_step < ? AND (not_before <= ? OR throttled_at > ?)"
)
# ADVANCE's `now` when the caller gives none (a code consumed without a throttle check): no
# not_before is that late.
NO_THROTTLE_CHECK = 2**63 - 1
COUNT_FAILURE = (
    "UPDATE credential SET failures = failures + 1"
    " WHERE id = ? AND (not_before <= ? OR throttled_at > ?) RETURNING failures"
)
# The policy's verdict on the count COUNT_FAILURE returned, in the same transaction.
SET_THROTTLE = "UPDATE credential SET failures = ?, not_before = ?, throttled_at = ? WHERE id = ?"
# An unknown name costs the same write as a wrong code (docs/requirements.md#equal-work).
UNKNOWN_ATTEMPT = "UPDATE tenant SET unknown_attempts = unknown_attempts + 1 WHERE id = ?"
INSERT_CREDENTIAL = (
    "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew, key_size, issuer,"
    " account_name, email, phone, created_at_us, secret, last_step, failures, not_before,"
    " throttled_at, refused) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# An imported replacement never lowers the replay state: a spent code stays spent.
IMPORT_REPLACE = (
    _SET_CONFIG
    + ", last_step = MAX(last_step, ?), "
    + _CLEAR_FAILURES
    + " WHERE id = ? AND tenant = ?"
)
# `count` ids of the server-wide credential sequence in one write (bulk import).
ALLOCATE_IDS = "UPDATE credential_id_seq SET value = value + ? RETURNING value"
