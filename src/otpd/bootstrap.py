"""build_runtime(settings): the store, sealer, clock and service, shared by the web app and CLI."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from otpd.clock import SystemClock
from otpd.core.access_service import LogEvents
from otpd.core.audit import Events
from otpd.core.errors import ConfigError
from otpd.core.policy import ThrottlePolicy
from otpd.core.ports import Store
from otpd.core.service import CredentialService
from otpd.core.trail import ClockWatch, Fanout, Trail
from otpd.crypto import NodeSession, SealManager, open_seal
from otpd.settings import Settings
from otpd.store.sqlite import SqliteStore

__all__ = ["Runtime", "build_runtime", "ensure_data_dir", "open_store"]

SQLITE_FILE = "otpd.sqlite3"


@dataclass
class Runtime:
    settings: Settings
    store: Store
    sealer: SealManager
    service: CredentialService
    trail: Trail
    clock_watch: ClockWatch

    def close(self) -> None:
        self.trail.close()  # what is queued for the audit trail goes in first
        self.store.close()


def ensure_data_dir(data_dir: Path) -> Path:
    """Create the data directory (mode 0700) if missing; refuse a file in its place."""
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"data directory {data_dir} is not a directory")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return data_dir


def open_store(settings: Settings) -> Store:
    database = settings.database
    if database is None:
        path = ensure_data_dir(settings.data_dir) / SQLITE_FILE
    elif database.startswith("sqlite:///"):
        path = Path(database.removeprefix("sqlite:///"))
    elif database.startswith(("postgresql://", "postgres://")):
        return _postgres(settings, database)
    else:
        raise ConfigError("database must be a sqlite:///PATH or postgresql://... URL")
    return SqliteStore(path, synchronous=settings.sqlite_synchronous)


def _postgres(settings: Settings, url: str) -> Store:
    try:  # the optional extra: otpd[postgres]
        from otpd.store.postgres import PostgresStore
    except ImportError:
        raise ConfigError(
            "PostgreSQL needs the postgres extra: pip install 'otpd[postgres]'"
        ) from None
    return PostgresStore(
        url,
        pool_size=settings.database_pool_size,
        statement_timeout=settings.database_statement_timeout,
    )


def build_runtime(
    settings: Settings, node: NodeSession | None = None, listeners: Sequence[Events] = ()
) -> Runtime:
    """Open (and on first use initialise) the data directory, database and seal. The services'
    events go to the `otpd.audit` log, the database trail, the clock watch and `listeners`
    (the web app's metrics)."""
    ensure_data_dir(settings.data_dir)
    throttle = ThrottlePolicy(
        free_failures=settings.throttle_free_failures,
        base_delay=settings.throttle_base_delay,
        max_delay=settings.throttle_max_delay,
        guess_limit=settings.guess_limit,
        guess_probability=settings.guess_probability,
        lock_timeout=settings.guess_lock_timeout,
    )
    store = open_store(settings)
    try:
        sealer = open_seal(settings.data_dir, store, node)
    except BaseException:
        store.close()
        raise
    clock = SystemClock()
    trail = Trail(store, clock, settings.audit_retention_days)
    clock_watch = ClockWatch(time.time, time.monotonic)
    service = CredentialService(
        store,
        sealer,
        clock,
        throttle=throttle,
        label_prefix=settings.strongbox_label_prefix,
        events=Fanout([LogEvents(), trail, clock_watch, *listeners]),
    )
    return Runtime(settings, store, sealer, service, trail, clock_watch)
