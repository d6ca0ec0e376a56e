"""Fixtures for the transfer tests: a real service over a real SQLite file and the real
AES-GCM sealer, with a clock the test sets; oathtool as the independent code oracle."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from otpd.core.bulk import BulkService
from otpd.core.model import Principal, Scope
from otpd.core.service import CredentialService
from otpd.crypto import open_seal
from otpd.store.sqlite import SqliteStore

ALL_SCOPES = frozenset({Scope.READ, Scope.WRITE, Scope.VERIFY, Scope.CODE, Scope.REVEAL})


class FixedClock:
    def __init__(self, seconds: int) -> None:
        self.us = seconds * 1_000_000

    def now_us(self) -> int:
        return self.us

    def set(self, seconds: int) -> None:
        self.us = seconds * 1_000_000


@dataclass
class Deployment:
    data_dir: Path
    store: SqliteStore
    service: CredentialService
    bulk: BulkService
    clock: FixedClock

    def principal(self, tenant: str = "acme") -> Principal:
        return Principal(tenant, "test", ALL_SCOPES)


def open_deployment(data_dir: Path, now: int, tenants: tuple[str, ...] = ("acme",)) -> Deployment:
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / "otpd.sqlite3")
    clock = FixedClock(now)
    service = CredentialService(store, open_seal(data_dir, store), clock)
    for tenant in tenants:
        if store.get_tenant(tenant) is None:
            service.create_tenant(tenant)
    return Deployment(data_dir, store, service, BulkService(service), clock)


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    d = open_deployment(tmp_path / "otpd-data", 1_111_111_109, ("acme", "other"))
    yield d
    d.store.close()


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
