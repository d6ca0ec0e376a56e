"""Helpers for the transfer tests: the real services over a real SQLite file and the real
AES-GCM sealer, with a clock the test sets; oathtool as the independent code oracle."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.fakes import ALL_SCOPES, FakeClock

from otpd.bootstrap import Services, compose_services
from otpd.core.bulk import BulkService
from otpd.core.model import Principal
from otpd.crypto import open_seal
from otpd.store.sqlite import SqliteStore


@dataclass
class InProcess:
    """The services over a real SQLite file, in this process: no server (the import rules
    are the bulk service's, tests/transfer/test_cli_* drive the commands)."""

    data_dir: Path
    store: SqliteStore
    services: Services
    bulk: BulkService
    clock: FakeClock

    def principal(self, tenant: str = "acme") -> Principal:
        return Principal(tenant, "test", ALL_SCOPES)


def open_services(data_dir: Path, now: int, tenants: tuple[str, ...] = ("acme",)) -> InProcess:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / "otpd.sqlite3")
    clock = FakeClock(now)
    services = compose_services(store, open_seal(data_dir, store), clock, label_prefix="Sbox")
    for tenant in tenants:
        if store.get_tenant(tenant) is None:
            services.access.create_tenant(tenant)
    return InProcess(data_dir, store, services, services.bulk, clock)


def oathtool(secret: bytes, at: int, digits: int = 6, period: int = 30, algo: str = "sha1") -> str:
    """The code oathtool (liboath) computes: the oracle independent of otpd.core.otp."""
    result = subprocess.run(
        [
            "oathtool",
            f"--totp={algo.upper()}",
            f"--digits={digits}",
            f"--time-step-size={period}s",
            f"--now=@{at}",
            secret.hex(),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()
