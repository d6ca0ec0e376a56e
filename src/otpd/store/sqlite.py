"""The SQLite CredentialStore: the embedded default, the twin of `memory.MemoryStore`.

Every method is one autocommit statement or one `BEGIN IMMEDIATE` transaction, so each is
atomic across threads and across processes sharing the file (docs/requirements.md#single-use,
docs/requirements.md#throttling). sqlite3 connections must stay in their thread, and the web server
calls the store from a thread pool, so each thread gets its own connection, opened on first use.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import astuple
from pathlib import Path
from typing import Any

from otpd.core.enrolment import EnrolmentTicket
from otpd.core.errors import AlreadyExists, ConfigError, NotFound, StoreUnavailable
from otpd.core.model import (
    Algorithm,
    ApiClient,
    CredentialRecord,
    OtpParams,
    PhenixAuth,
    Tenant,
    ThrottleState,
    TokenRecord,
)
from otpd.store import migrate
from otpd.store.audit_rows import SqlAuditRows
from otpd.store.client_rows import SqlClientRows, client_from_row
from otpd.store.console_rows import SqlConsoleRows
from otpd.store.group_commit import GroupCommit
from otpd.store.key_rows import SqlKeyRows
from otpd.store.radius_rows import SqlRadiusRows

__all__ = ["SqliteStore"]

# PRAGMA synchronous values. FULL makes a commit survive power loss, NORMAL (in WAL mode) only
# a process crash (docs/requirements.md#durable-before-success); the setting is the operator's
# durability claim.
SYNCHRONOUS = {"FULL": 2, "NORMAL": 1}
MIN_SQLITE = (3, 35, 0)  # UPDATE ... RETURNING
_UNIQUE = {"SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"}
_NO_THROTTLE_CHECK = 2**63 - 1  # advance() without `now`: no not_before is that late

_TENANT = "SELECT id, settings, created_at FROM tenant "
_CLIENT = (  # the columns client_rows.client_from_row reads
    "SELECT tenant, name, scopes, key_hash, created_at, previous_key_hash,"
    " previous_key_expires_at_us, last_used_at_us FROM api_client "
)
# A key opens its client while current, or while the grace of a rotation lasts (the core
# compares the expiry with its clock: core.access.key_is_live). Both columns are indexed.
_BY_KEY = "WHERE key_hash = ? OR previous_key_hash = ?"
_CREDENTIAL = (
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
_REPLACE = _SET_CONFIG + _RESCALE + _WHERE_ROW
_REPLACE_AND_RESET = _SET_CONFIG + ", last_step = -1, " + _CLEAR_FAILURES + _WHERE_ROW
_REFUSE = "UPDATE credential SET refused = refused + 1 WHERE id = ?"
_ADVANCE = (
    "UPDATE credential SET last_step = ?, failures = 0, not_before = 0, throttled_at = 0"
    " WHERE id = ? AND last_step < ? AND (not_before <= ? OR throttled_at > ?)"
)
_COUNT_FAILURE = (
    "UPDATE credential SET failures = failures + 1"
    " WHERE id = ? AND (not_before <= ? OR throttled_at > ?) RETURNING failures"
)
_INSERT_CREDENTIAL = (
    "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew, key_size, issuer,"
    " account_name, email, phone, created_at_us, secret, last_step, failures, not_before,"
    " throttled_at, refused) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# An imported replacement never lowers the replay state: a spent code stays spent.
_IMPORT_REPLACE = (
    _SET_CONFIG
    + ", last_step = MAX(last_step, ?), "
    + _CLEAR_FAILURES
    + " WHERE id = ? AND tenant = ?"
)
_BEARER = (  # columns in TokenRecord field order
    "SELECT token_hash, accessor, tenant, client, created_at_us, renewed_at_us, expires_at_us,"
    " client_key_hash FROM token "
)


class _Connection(sqlite3.Connection):
    """Only so the store can hold weak references to its connections (for close())."""


class SqliteStore(  # + RADIUS (#15), console (#16), keys, clients (#14), audit (#13)
    SqlRadiusRows, SqlConsoleRows, SqlKeyRows, SqlClientRows, SqlAuditRows
):
    def __init__(
        self, path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int = 10000
    ) -> None:
        mode = synchronous.upper() if isinstance(synchronous, str) else ""
        if mode not in SYNCHRONOUS:
            raise ConfigError("SQLite synchronous must be FULL or NORMAL")
        if type(busy_timeout_ms) is not int or busy_timeout_ms < 0:
            raise ConfigError("SQLite busy timeout must be a whole number of milliseconds >= 0")
        if sqlite3.sqlite_version_info < MIN_SQLITE:
            raise ConfigError(f"SQLite {sqlite3.sqlite_version} is too old; otpd needs 3.35+")
        self._path = Path(path)
        self._synchronous = mode
        self._busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        # Writers of this process queue on a Python lock instead of SQLite's busy handler,
        # which sleeps in steps of up to 100 ms: bench/server_choice.py measured p99 ~1 s under
        # synchronous=FULL without it. Other processes still meet SQLite's own lock
        # (docs/requirements.md#database-faults).
        self._write_lock = threading.Lock()
        self._connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        # The verification writes share one transaction and one sync per batch (issue #12).
        self._group = GroupCommit(self._write_lock, self._connection, _domain_error)
        self._closed = False
        try:
            _prepare(self._connection(), self._path, busy_timeout_ms)
        except sqlite3.Error as exc:
            self.close()
            raise ConfigError(f"cannot open the SQLite database {self._path}: {exc}") from exc
        except BaseException:
            self.close()
            raise

    # --- tenants and API clients ---------------------------------------------------------
    def create_tenant(self, tenant: Tenant) -> None:
        self._change(
            "INSERT INTO tenant (id, settings, created_at) VALUES (?, ?, ?)",
            (tenant.id, _tenant_settings(tenant), tenant.created_at),
            "tenant",
        )

    def update_tenant(self, tenant: Tenant) -> None:
        changed = self._change(
            "UPDATE tenant SET settings = ?, created_at = ? WHERE id = ?",
            (_tenant_settings(tenant), tenant.created_at, tenant.id),
            "tenant",
        )
        if not changed:
            raise NotFound("no such tenant")

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        rows = self._query(_TENANT + "WHERE id = ?", (tenant_id,))
        return _tenant(rows[0]) if rows else None

    def list_tenants(self) -> list[Tenant]:
        return [_tenant(row) for row in self._query(_TENANT + "ORDER BY id")]

    def create_client(self, client: ApiClient) -> None:
        # INSERT ... SELECT so a missing tenant reads as NotFound even when the key hash
        # clashes with another tenant's client, as in MemoryStore.
        scopes = ",".join(sorted(client.scopes))
        inserted = self._change(
            "INSERT INTO api_client (tenant, name, scopes, key_hash, created_at)"
            " SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tenant WHERE id = ?)",
            (client.tenant, client.name, scopes, client.key_hash, client.created_at, client.tenant),
            "client",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def find_client_by_key_hash(self, key_hash: str) -> ApiClient | None:
        rows = self._query(_CLIENT + _BY_KEY, (key_hash, key_hash))
        return _client(rows[0]) if rows else None

    def list_clients(self, tenant_id: str) -> list[ApiClient]:
        rows = self._query(_CLIENT + "WHERE tenant = ? ORDER BY name", (tenant_id,))
        return [_client(row) for row in rows]

    def get_client(self, tenant_id: str, name: str) -> ApiClient | None:
        rows = self._query(_CLIENT + "WHERE tenant = ? AND name = ?", (tenant_id, name))
        return _client(rows[0]) if rows else None

    # --- credentials ---------------------------------------------------------------------
    def allocate_credential_id(self) -> int:
        with self._write_lock:
            rows = self._query("UPDATE credential_id_seq SET value = value + 1 RETURNING value")
        return int(rows[0][0])

    def insert_credential(self, record: CredentialRecord) -> None:
        head = (record.id, record.tenant, *_credential_config(record), record.created_at_us)
        state = (record.last_step, *astuple(record.throttle), record.refused)
        inserted = self._change(
            "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew,"
            " key_size, issuer, account_name, email, phone, created_at_us, secret, last_step,"
            " failures, not_before, throttled_at, refused)"
            " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?"
            " WHERE EXISTS (SELECT 1 FROM tenant WHERE id = ?)",
            (*head, record.sealed_secret, *state, record.tenant),
            "credential",
        )
        if not inserted:
            raise NotFound("no such tenant")

    def replace_credential(
        self,
        record: CredentialRecord,
        *,
        reset_state: bool,
        expect_version: int | None = None,
    ) -> bool:
        # One statement: the id and created_at_us stay. Without reset_state the failure
        # columns are not written, and last_step only rescaled from its current value, so a
        # concurrent advance() is never undone.
        row = (record.id, record.tenant, expect_version, expect_version)
        rescale: tuple[int, ...] = ()
        if reset_state:
            sql = _REPLACE_AND_RESET
        else:
            sql, rescale = _REPLACE, (record.params.period,)
        params = (*_credential_config(record), record.sealed_secret, *rescale, *row)
        return bool(self._change(sql, params, "credential"))

    def get_credential(self, tenant_id: str, name: str) -> CredentialRecord | None:
        rows = self._query(_CREDENTIAL + "WHERE tenant = ? AND name = ?", (tenant_id, name))
        return _credential(rows[0]) if rows else None

    def get_credential_by_id(self, tenant_id: str, credential_id: int) -> CredentialRecord | None:
        # The tenant is part of the key: another tenant's id reads as missing
        # (docs/requirements.md#tenancy).
        rows = self._query(_CREDENTIAL + "WHERE id = ? AND tenant = ?", (credential_id, tenant_id))
        return _credential(rows[0]) if rows else None

    def list_credentials(self, tenant_id: str) -> list[CredentialRecord]:
        rows = self._query(_CREDENTIAL + "WHERE tenant = ? ORDER BY name", (tenant_id,))
        return [_credential(row) for row in rows]

    def count_credentials(self, tenant_id: str) -> int:
        rows = self._query("SELECT COUNT(*) FROM credential WHERE tenant = ?", (tenant_id,))
        return int(rows[0][0])

    def delete_credential(
        self, tenant_id: str, name: str, *, expect_version: int | None = None
    ) -> bool:
        sql = "DELETE FROM credential WHERE tenant = ? AND name = ? AND (? IS NULL OR version = ?)"
        params = (tenant_id, name, expect_version, expect_version)
        return bool(self._change(sql, params, "credential"))

    # --- verification state: the invariants ----------------------------------------------
    def advance(self, credential_id: int, new_step: int, *, now: int | None = None) -> bool:
        # The compare-and-set is one statement under SQLite's write lock, and its
        # `last_step < ?` guard means the stored step never moves back
        # (docs/requirements.md#single-use). True only after the group commit holding the write
        # returned (store.group_commit), so the step is on disk with the configured synchronous
        # (docs/requirements.md#durable-before-success). With `now`, a credential throttled at
        # `now` is not consumed either: the throttle test and the consumption are one atomic
        # step (docs/requirements.md#throttling).
        limit = now if now is not None else _NO_THROTTLE_CHECK
        params = (new_step, credential_id, new_step, limit, limit)
        return self._group.run(
            lambda conn: conn.execute(_ADVANCE, params).rowcount == 1, "credential"
        )

    def record_failure(
        self, credential_id: int, now: int, next_state: Callable[[int], ThrottleState]
    ) -> ThrottleState | None:
        # The increment and the policy's verdict happen in one savepoint of a group commit,
        # under the write lock, so parallel guesses cannot both read the same count. A
        # throttled credential counts a refusal only (docs/requirements.md#throttling).
        def write(conn: sqlite3.Connection) -> ThrottleState | None:
            rows = conn.execute(_COUNT_FAILURE, (credential_id, now, now)).fetchall()
            if not rows:
                conn.execute(_REFUSE, (credential_id,))
                return None
            state = next_state(int(rows[0][0]))
            conn.execute(
                "UPDATE credential SET failures = ?, not_before = ?, throttled_at = ? WHERE id = ?",
                (state.failures, state.not_before, state.since, credential_id),
            )
            return state

        return self._group.run(write, "credential")

    def record_refusal(self, credential_id: int) -> None:
        # Group-committed like record_failure, so a throttled attempt costs the same write.
        self._group.run(lambda conn: conn.execute(_REFUSE, (credential_id,)), "credential")

    def reset_failures(self, tenant_id: str, name: str) -> bool:
        sql = (
            "UPDATE credential SET failures = 0, not_before = 0, throttled_at = 0"
            " WHERE tenant = ? AND name = ?"
        )
        return bool(self._change(sql, (tenant_id, name), "credential"))

    def record_unknown_attempt(self, tenant_id: str) -> None:
        # Group-committed like record_failure, so the two cost the same write
        # (docs/requirements.md#equal-work).
        sql = "UPDATE tenant SET unknown_attempts = unknown_attempts + 1 WHERE id = ?"
        self._group.run(lambda conn: conn.execute(sql, (tenant_id,)), "tenant")

    def unknown_attempts(self, tenant_id: str) -> int:
        rows = self._query("SELECT unknown_attempts FROM tenant WHERE id = ?", (tenant_id,))
        return int(rows[0][0]) if rows else 0

    # --- bearer tokens ------------------------------------------------------------------
    def insert_token(self, token: TokenRecord) -> None:
        sql = (
            "INSERT INTO token (token_hash, accessor, tenant, client, created_at_us,"
            " renewed_at_us, expires_at_us, client_key_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        self._change(sql, astuple(token), "token")  # columns in TokenRecord field order

    def get_token(self, token_hash: str) -> TokenRecord | None:
        rows = self._query(_BEARER + "WHERE token_hash = ?", (token_hash,))
        return TokenRecord(*rows[0]) if rows else None

    def renew_token(self, token_hash: str, renewed_at_us: int, expires_at_us: int) -> bool:
        # The expiry test is in the WHERE clause, so a renewal racing the clock cannot revive
        # an expired token.
        sql = (
            "UPDATE token SET renewed_at_us = ?, expires_at_us = ?"
            " WHERE token_hash = ? AND expires_at_us > ?"
        )
        params = (renewed_at_us, expires_at_us, token_hash, renewed_at_us)
        return self._change(sql, params, "token") == 1

    def delete_expired_tokens(self, now_us: int) -> int:
        sql = "DELETE FROM token WHERE expires_at_us <= ?"
        return self._change(sql, (now_us,), "token")

    # --- small named values --------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def put_meta_if_absent(self, key: str, value: str) -> bool:
        sql = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
        return bool(self._change(sql, (key, value), "meta"))

    def close(self) -> None:
        """Close every connection this thread may close; sqlite3 refuses the others, which
        close when their thread ends. The store is unusable afterwards."""
        self._closed = True
        for conn in list(self._connections):
            with suppress(sqlite3.ProgrammingError):
                conn.close()
        self._local.__dict__.pop("conn", None)

    # --- plumbing ------------------------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self._path, self._synchronous, self._busy_timeout_ms)
            self._connections.add(conn)
            self._local.conn = conn
        return conn

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with _translate("row"):
            return self._connection().execute(sql, params).fetchall()

    def _change(self, sql: str, params: Sequence[object], what: str) -> int:
        with self._write_lock, _translate(what):
            return self._connection().execute(sql, params).rowcount

    @contextmanager
    def _transaction(self, what: str) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock first, so the transaction never has to upgrade a
        # stale read snapshot (which would fail at once instead of waiting:
        # docs/requirements.md#database-faults).
        with self._write_lock, _translate(what):
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                # An unknown commit outcome is reported as a failure
                # (docs/requirements.md#durable-before-success).
                with suppress(sqlite3.Error):
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                raise

    # --- bulk import, backup and restore (issue #17, otpd.core.ports.BulkCredentialStore) --
    def allocate_credential_ids(self, count: int) -> list[int]:
        with self._write_lock:
            rows = self._query(
                "UPDATE credential_id_seq SET value = value + ? RETURNING value", (count,)
            )
        last = int(rows[0][0])
        return list(range(last - count + 1, last + 1))

    def get_credentials_by_name(
        self, tenant_id: str, names: Sequence[str]
    ) -> dict[str, CredentialRecord]:
        found: dict[str, CredentialRecord] = {}
        for start in range(0, len(names), 500):  # SQLite allows 32766 parameters; stay small
            chunk = list(names[start : start + 500])
            marks = ",".join("?" * len(chunk))
            sql = _CREDENTIAL + f"WHERE tenant = ? AND name IN ({marks})"
            for row in self._query(sql, (tenant_id, *chunk)):
                record = _credential(row)
                found[record.name] = record
        return found

    def write_credentials(
        self, inserts: Sequence[CredentialRecord], replaces: Sequence[CredentialRecord]
    ) -> None:
        insert_rows = [
            (
                r.id,
                r.tenant,
                *_credential_config(r),
                r.created_at_us,
                r.sealed_secret,
                r.last_step,
                *astuple(r.throttle),
                r.refused,
            )
            for r in inserts
        ]
        replace_rows = [
            (*_credential_config(r), r.sealed_secret, r.last_step, r.id, r.tenant) for r in replaces
        ]
        with self._transaction("credential") as conn:
            conn.executemany(_INSERT_CREDENTIAL, insert_rows)
            for params in replace_rows:
                if conn.execute(_IMPORT_REPLACE, params).rowcount != 1:
                    raise NotFound("no such credential")
            conn.executemany(
                "DELETE FROM enrolment_ticket WHERE tenant = ? AND credential_id = ?",
                [(r.tenant, r.id) for r in replaces],
            )

    def raise_replay_floor(self, now: int) -> int:
        # Integer division: the time step of `now` for each credential's period, plus its
        # forward window, so every code it could have accepted before `now` is spent.
        sql = "UPDATE credential SET last_step = MAX(last_step, ? / period + skew)"
        return self._change(sql, (now,), "credential")

    def backup_to(self, target: Path) -> None:
        """A consistent copy through SQLite's online backup API (https://sqlite.org/backup.html).
        In one step: under WAL a reader does not block writers, and a stepwise copy would
        restart each time another process writes (https://sqlite.org/c3ref/backup_finish.html)."""
        with _translate("backup"):
            dest = sqlite3.connect(target)
            try:
                self._connection().backup(dest)
            finally:
                dest.close()

    # --- Token2 enrolment tickets (issue #5) --------------------------------------------
    def insert_enrolment_ticket(self, ticket: EnrolmentTicket) -> None:
        # INSERT ... SELECT: a credential of another tenant reads as missing, like a deleted one.
        inserted = self._change(
            "INSERT INTO enrolment_ticket (ticket_hash, tenant, credential_id, expires_at_us)"
            " SELECT ?, ?, ?, ? WHERE EXISTS"
            " (SELECT 1 FROM credential WHERE id = ? AND tenant = ?)",
            (*astuple(ticket), ticket.credential_id, ticket.tenant),
            "enrolment ticket",
        )
        if not inserted:
            raise NotFound("no such credential")

    def get_enrolment_ticket(self, ticket_hash: str) -> EnrolmentTicket | None:
        rows = self._query(
            "SELECT ticket_hash, tenant, credential_id, expires_at_us FROM enrolment_ticket"
            " WHERE ticket_hash = ?",
            (ticket_hash,),
        )
        return EnrolmentTicket(*rows[0]) if rows else None

    def delete_expired_enrolment_tickets(self, now_us: int) -> int:
        sql = "DELETE FROM enrolment_ticket WHERE expires_at_us <= ?"
        return self._change(sql, (now_us,), "enrolment ticket")

    def delete_enrolment_tickets(self, tenant_id: str, credential_id: int) -> int:
        sql = "DELETE FROM enrolment_ticket WHERE tenant = ? AND credential_id = ?"
        return self._change(sql, (tenant_id, credential_id), "enrolment ticket")


def _connect(path: Path, synchronous: str, busy_timeout_ms: int) -> _Connection:
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_ms / 1000,
        isolation_level=None,  # autocommit: each lone statement is its own transaction
        check_same_thread=True,
        factory=_Connection,
    )
    try:
        # Per connection, not per file: a lock wait is bounded
        # (docs/requirements.md#database-faults), commits are as
        # durable as configured (docs/requirements.md#durable-before-success), and foreign keys are
        # off unless asked for. PRAGMA
        # takes no parameters; both values are validated integers, never input
        # (docs/requirements.md#parameterised-sql).
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS[synchronous]}")
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA foreign_keys").fetchall() != [(1,)]:
            raise ConfigError("this SQLite library does not enforce foreign keys")
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
    """Check the file, switch it to WAL and bring its schema up to date."""
    migrations = migrate.load()
    # Refuse before writing anything: a newer or foreign database is left untouched.
    migrate.check_supported(_schema_version(conn, path), migrations)
    _enable_wal(conn, path, busy_timeout_ms)
    migrate.apply(conn, migrations, split=_split)


def _split(script: str) -> list[str]:
    return migrate.split_statements(script, sqlite3.complete_statement)


def _enable_wal(conn: sqlite3.Connection, path: Path, busy_timeout_ms: int) -> None:
    """WAL lets readers run beside the one writer; the mode is stored in the file. Switching
    needs an exclusive lock that SQLite does not wait for (a second process opening a fresh
    file at the same moment gets SQLITE_BUSY at once), so retry up to the busy timeout."""
    deadline = time.monotonic() + busy_timeout_ms / 1000
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchall()[0][0]
            break
        except sqlite3.OperationalError as exc:
            if not exc.sqlite_errorname.startswith("SQLITE_BUSY") or time.monotonic() > deadline:
                raise
            time.sleep(0.005)
    if str(mode).lower() != "wal":
        raise ConfigError(f"cannot switch the SQLite database {path} to WAL mode")


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    conn.execute("BEGIN")  # one read snapshot for both questions
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        version = 0
        if "schema_version" in names:
            sql = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
            version = int(conn.execute(sql).fetchall()[0][0])
    finally:
        conn.execute("ROLLBACK")
    if version == 0 and names - {"schema_version"}:
        raise ConfigError(f"the SQLite database {path} holds tables otpd did not create")
    return version


@contextmanager
def _translate(what: str) -> Iterator[None]:
    """Map sqlite3 errors to domain errors. Messages name the SQLite error code only, never
    a statement's parameters, which may hold sealed secrets or key hashes."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        if exc.sqlite_errorname == "SQLITE_CONSTRAINT_FOREIGNKEY":
            raise NotFound("no such tenant") from None
        if exc.sqlite_errorname in _UNIQUE:
            raise AlreadyExists(f"{what} exists") from None
        raise StoreUnavailable(f"the database refused the write ({exc.sqlite_errorname})") from exc
    except sqlite3.DatabaseError as exc:
        # Disk full, I/O error, locked past busy_timeout: fail closed
        # (docs/requirements.md#database-faults).
        name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
        raise StoreUnavailable(f"the database could not be used ({name})") from exc


def _domain_error(exc: BaseException, what: str) -> BaseException:
    """_translate's mapping as a value, for store.group_commit; other errors pass as they are."""
    try:
        with _translate(what):
            raise exc
    except BaseException as mapped:
        return mapped


# --- rows <-> model ----------------------------------------------------------------------
def _tenant_settings(tenant: Tenant) -> str:
    settings = {
        "phenixid_auth": tenant.phenixid_auth.value,
        "allowed_operations": list(tenant.allowed_operations),
        "client_cert_subjects": list(tenant.client_cert_subjects),
    }
    if tenant.issuer is not None:  # absent in rows written before issue #13
        settings["issuer"] = tenant.issuer
    return json.dumps(settings, sort_keys=True)


def _tenant(row: Any) -> Tenant:
    settings = json.loads(row[1])
    return Tenant(
        id=row[0],
        phenixid_auth=PhenixAuth(settings["phenixid_auth"]),
        allowed_operations=tuple(settings["allowed_operations"]),
        client_cert_subjects=tuple(settings["client_cert_subjects"]),
        issuer=settings.get("issuer"),
        created_at=row[2],
    )


_client = client_from_row  # postgres.py imports it from here


def _credential_config(record: CredentialRecord) -> tuple[object, ...]:
    """The columns from name to phone, in table order."""
    p = record.params
    config = (record.name, p.algorithm.value, p.digits, p.period, p.skew, record.key_size)
    return (*config, record.issuer, record.account_name, record.email, record.phone)


def _credential(row: Any) -> CredentialRecord:
    return CredentialRecord(
        id=row[0],
        tenant=row[1],
        name=row[2],
        params=OtpParams(Algorithm(row[3]), row[4], row[5], row[6]),
        key_size=row[7],
        issuer=row[8],
        account_name=row[9],
        email=row[10],
        phone=row[11],
        created_at_us=row[12],
        sealed_secret=bytes(row[13]),
        last_step=row[14],
        throttle=ThrottleState(failures=row[15], not_before=row[16], since=row[18]),
        version=row[17],
        refused=row[19],
        state=row[20],
    )
