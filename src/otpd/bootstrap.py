"""build_runtime(settings): the store, sealer, clock and services, shared by the web app and CLI.

compose_services is where the core's services are put together, each given only the ports it
uses (docs/design.md#services); tests and benchmarks compose them the same way over their own
store, sealer and clock.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from otpd.clock import SystemClock
from otpd.core.access_service import AccessService
from otpd.core.audit import Events
from otpd.core.bulk import BulkService
from otpd.core.client_cache import ClientCache
from otpd.core.console_service import ConsoleService
from otpd.core.context import LogEvents, ServiceContext
from otpd.core.credential_service import CredentialService
from otpd.core.enrolment_service import EnrolmentService
from otpd.core.errors import ConfigError
from otpd.core.inflight import InFlight
from otpd.core.policy import ThrottlePolicy
from otpd.core.ports import BulkCredentialStore, Clock, CredentialStore, Sealer, Store
from otpd.core.provisioning import KeyUriBuilder
from otpd.core.seal_service import SealService
from otpd.core.tokens import TokenPolicy
from otpd.core.trail import ClockWatch, Fanout, Trail
from otpd.core.verification import Verifier
from otpd.crypto import NodeSession, SealManager, open_seal
from otpd.settings import Settings
from otpd.store.sqlite import SqliteStore

__all__ = [
    "Administration",
    "Runtime",
    "Services",
    "build_administration",
    "build_runtime",
    "compose_services",
    "ensure_data_dir",
    "open_store",
]

SQLITE_FILE = "otpd.sqlite3"


@dataclass
class Services:
    """The core's services over one store, sealer and clock."""

    context: ServiceContext  # the clock and the audit events, shared by all of them
    access: AccessService  # tenants, API clients, authentication, bearer tokens
    credentials: CredentialService  # credentials, their secrets and codes, verification
    enrolment: EnrolmentService  # enrolment tickets and the first code of a pending credential
    sealing: SealService  # unseal and seal
    bulk: BulkService  # import and export (issue #17)
    console: ConsoleService  # the admin console's accounts, sessions and views (issue #16)

    def sweep_expired(self) -> int:
        """Delete expired bearer tokens and enrolment tickets (the web app runs this every few
        minutes); returns how many went."""
        return self.access.sweep_expired_tokens() + self.enrolment.sweep_expired_tickets()


def compose_services(
    store: Store,
    sealer: Sealer,
    clock: Clock,
    *,
    label_prefix: str,  # the otpauth label prefix: configuration (settings), no default here
    throttle: ThrottlePolicy | None = None,
    tokens: TokenPolicy | None = None,
    random_bytes: Callable[[int], bytes] = secrets.token_bytes,
    client_cache: ClientCache | None = None,
    events: Events | None = None,
    offsets: Callable[[], list[int]] = list,
) -> Services:
    """One store object serves every port; each service is typed against the ones it uses.
    Verification and sealing share one in-flight gate (core.inflight). `offsets`: the matched
    step offsets of this process (the console's drift chart; trail.ClockWatch)."""
    context = ServiceContext(clock, events)
    in_flight = InFlight()
    verifier = Verifier(store, sealer, clock, throttle or ThrottlePolicy(), in_flight)
    uris = KeyUriBuilder(store, label_prefix)
    access = AccessService(store, store, store, context, tokens=tokens, client_cache=client_cache)
    credentials = CredentialService(
        store, sealer, context, verifier, uris, random_bytes=random_bytes
    )
    return Services(
        context=context,
        access=access,
        credentials=credentials,
        enrolment=EnrolmentService(
            store, sealer, context, verifier, uris, credentials, random_bytes=random_bytes
        ),
        sealing=SealService(sealer, context, in_flight),
        bulk=BulkService(store, store, sealer, context, credentials, _bulk_port(store)),
        console=ConsoleService(store, store, context, access, credentials, offsets=offsets),
    )


def _bulk_port(store: CredentialStore) -> BulkCredentialStore | None:
    """The store's bulk port (import), when it has one."""
    return store if isinstance(store, BulkCredentialStore) else None


@dataclass
class Runtime(Services):
    """The services and what they run on, for one process."""

    settings: Settings
    store: Store
    sealer: SealManager
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


def _throttle_policy(settings: Settings) -> ThrottlePolicy:
    return ThrottlePolicy(
        free_failures=settings.throttle_free_failures,
        base_delay=settings.throttle_base_delay,
        max_delay=settings.throttle_max_delay,
        guess_limit=settings.guess_limit,
        guess_probability=settings.guess_probability,
        lock_timeout=settings.guess_lock_timeout,
    )


def build_runtime(
    settings: Settings, node: NodeSession | None = None, listeners: Sequence[Events] = ()
) -> Runtime:
    """Open (and on first use initialise) the data directory, database and seal. The services'
    events go to the `otpd.audit` log, the database trail, the clock watch and `listeners`
    (the web app's metrics)."""
    ensure_data_dir(settings.data_dir)
    store = open_store(settings)
    try:
        sealer = open_seal(settings.data_dir, store, node)
    except BaseException:
        store.close()
        raise
    clock = SystemClock()
    trail = Trail(store, clock, settings.audit_retention_days)
    clock_watch = ClockWatch(time.time, time.monotonic)
    services = compose_services(
        store,
        sealer,
        clock,
        throttle=_throttle_policy(settings),
        label_prefix=settings.strongbox_label_prefix,
        events=Fanout([LogEvents(), trail, clock_watch, *listeners]),
        offsets=clock_watch.recent_offsets,
    )
    # Every Services field carried over by name (a shallow copy: the same service objects), so
    # a new service needs no edit here; Runtime's own fields are checked by mypy as usual.
    return Runtime(
        **{f.name: getattr(services, f.name) for f in fields(Services)},
        settings=settings,
        store=store,
        sealer=sealer,
        trail=trail,
        clock_watch=clock_watch,
    )


@dataclass
class Administration:
    """AccessService over the database alone, for the commands that need no seal key
    (`otpd tenant delete`, `otpd client list`): they work while the servers are sealed.
    Its events go to the `otpd.audit` log and the database trail, as build_runtime's."""

    access: AccessService
    trail: Trail
    store: Store

    def close(self) -> None:
        self.trail.close()  # what is queued for the audit trail goes in first
        self.store.close()


def build_administration(settings: Settings) -> Administration:
    store = open_store(settings)
    clock = SystemClock()
    trail = Trail(store, clock, settings.audit_retention_days)
    context = ServiceContext(clock, Fanout([LogEvents(), trail]))
    return Administration(AccessService(store, store, store, context), trail, store)
