"""Session-wide fixtures: server log directory and the final no-secret-in-logs check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import server as harness
from tests.support.pgserver import PgServer


@pytest.fixture(scope="session", autouse=True)
def server_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every server the session starts logs here; at the end no registered secret may appear
    in any of those logs, in any common spelling."""
    harness.LOG_DIR = tmp_path_factory.mktemp("server-logs")
    yield harness.LOG_DIR
    leaks = []
    for log in sorted(harness.LOG_DIR.glob("*.log")):
        text = log.read_text(errors="replace")
        for raw in harness.SECRETS:
            leaks += [
                (log.name, form[:6] + "...") for form in harness.secret_forms(raw) if form in text
            ]
    assert not leaks, f"secrets found in server logs: {leaks}"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An existing, empty data directory: only `serve` and `init` create a missing one."""
    directory = tmp_path / "otpd-data"
    directory.mkdir(mode=0o700)
    return directory


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL per pytest-xdist worker, started on first use (support/pgserver.py)."""
    server = PgServer().init()
    yield server
    server.destroy()


@pytest.fixture(scope="module")
def pg_module_url(pg_server: PgServer) -> str:
    """A fresh, empty database for one test module."""
    return pg_server.create_database()
