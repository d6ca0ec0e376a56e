"""PostgreSQL-specific behaviour (issue #11): migrations and schema_version checks, several
stores (as several instances) racing on one row, errors without the password, a database
that goes away and comes back."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from otpd.core.errors import ConfigError, StoreUnavailable
from otpd.settings import mask_url
from otpd.store import pg_connect
from otpd.store.postgres import PostgresStore
from tests.support.pgserver import PgServer
from tests.support.server import run_cli
from tests.support.stores import add_credential, make_tenant, never_throttle


@pytest.fixture
def url(pg_server: PgServer) -> str:
    return pg_server.create_database("pgs")


@pytest.fixture
def stores(url: str) -> Iterator[list[PostgresStore]]:
    """Three stores on one database: three instances' pools."""
    opened = [PostgresStore(url, pool_size=8) for _ in range(3)]
    yield opened
    for store in opened:
        store.close()


def _sql(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql)
        return [tuple(row) for row in cur.fetchall()] if cur.description else []


def test_migrations_are_recorded_and_mirror_sqlite(url: str) -> None:
    PostgresStore(url).close()
    versions = _sql(url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(m.version,) for m in pg_connect.migrations()]
    from otpd.store import migrate

    sqlite_names = [(m.version, m.name) for m in migrate.load()]
    assert [(m.version, m.name) for m in pg_connect.migrations()] == sqlite_names


def test_newer_schema_is_refused_and_left_untouched(url: str) -> None:
    PostgresStore(url).close()
    _sql(url, "INSERT INTO schema_version (version, applied_at) VALUES (999, 0)")
    with pytest.raises(ConfigError, match="newer than this otpd supports"):
        PostgresStore(url)
    assert _sql(url, "SELECT MAX(version) FROM schema_version") == [(999,)]


def test_foreign_database_is_refused(url: str) -> None:
    _sql(url, "CREATE TABLE someone_elses (x int)")
    with pytest.raises(ConfigError, match="tables otpd did not create"):
        PostgresStore(url)
    assert _sql(url, "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'tenant'") == [(0,)]


def test_instances_opening_a_fresh_database_at_once_migrate_once(url: str) -> None:
    barrier = threading.Barrier(4)

    def open_one(_: int) -> None:
        barrier.wait(timeout=30)
        PostgresStore(url).close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(open_one, range(4)))
    versions = _sql(url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(m.version,) for m in pg_connect.migrations()]
    assert _sql(url, "SELECT value FROM credential_id_seq") == [(0,)]


def test_advance_race_across_instances_has_one_winner_per_step(
    stores: list[PostgresStore],
) -> None:
    record = add_credential(stores[0])
    threads, steps = 6, 200
    barrier = threading.Barrier(threads)

    def hammer(i: int) -> list[int]:
        store = stores[i % len(stores)]
        won = []
        for step in range(1, steps + 1):
            barrier.wait(timeout=60)
            if store.advance(record.id, step):
                won.append(step)
        return won

    with ThreadPoolExecutor(threads) as pool:
        winners = Counter(step for won in pool.map(hammer, range(threads)) for step in won)
    assert winners == Counter(range(1, steps + 1))


def test_record_failure_across_instances_loses_no_increment(
    stores: list[PostgresStore],
) -> None:
    record = add_credential(stores[0])

    def fail(i: int) -> int:
        state = stores[i % len(stores)].record_failure(record.id, 0, never_throttle)
        assert state is not None
        return state.failures

    with ThreadPoolExecutor(6) as pool:
        counts = sorted(pool.map(fail, range(300)))
    assert counts == list(range(1, 301))


def test_unreachable_database_is_one_masked_line(pg_server: PgServer, tmp_path: Path) -> None:
    url = f"postgresql://otpd:hunter2-secret@127.0.0.1:{pg_server.port + 1}/none"
    with pytest.raises(ConfigError) as caught:
        PostgresStore(url, statement_timeout=1)
    assert "hunter2" not in str(caught.value) and "otpd:***@" in str(caught.value)
    result = run_cli("tenant", "show", "acme", "--database", url, "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("otpd: error: cannot connect to PostgreSQL at postgresql://")
    assert "hunter2" not in result.stderr and result.stderr.count("\n") == 1


def test_mask_url() -> None:
    assert mask_url("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert mask_url("postgresql://h/d?password=pw&sslmode=require") == (
        "postgresql://h/d?password=***&sslmode=require"
    )
    assert mask_url("postgresql://u@h/d") == "postgresql://u@h/d"


def test_database_restart_is_unavailable_then_resumes() -> None:
    server = PgServer().init()
    try:
        store = PostgresStore(server.create_database("restart"), pool_size=2, statement_timeout=1)
        store.create_tenant(make_tenant("acme"))
        server.stop("fast")
        with pytest.raises(StoreUnavailable) as caught:
            store.get_tenant("acme")
        assert "otpd" not in str(caught.value)  # no URL, user or host in the message
        with pytest.raises(StoreUnavailable):
            store.create_tenant(make_tenant("other"))
        server.start()
        assert _eventually(lambda: store.get_tenant("acme") is not None)
        assert store.get_tenant("other") is None  # nothing half-written
        store.close()
    finally:
        server.destroy()


def _eventually(check: object, seconds: float = 20) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return True
        except StoreUnavailable:
            pass
        time.sleep(0.2)
    return False
