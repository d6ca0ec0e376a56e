"""Shared benchmark pieces: a fake clock, deterministic secrets and codes, bulk population,
stopping a server's process group, tables."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import sqlite3
import statistics
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

# One fake clock for the tests and the benchmarks; bench scripts run as `python -m bench.x`
# from the repository root, where the tests package is importable.
from tests.support.fakes import FakeClock

from otpd.bootstrap import SQLITE_FILE, compose_services
from otpd.clock import SystemClock
from otpd.core.model import Scope, SecretBytes
from otpd.core.otp import totp
from otpd.crypto import SealManager, open_seal
from otpd.store.sqlite import SqliteStore

__all__ = [
    "CALL_MODE_ENV",
    "FREE_FAILURES",
    "NAME_FORMAT",
    "PERIOD",
    "TENANT",
    "FakeClock",
    "Meter",
    "add_client",
    "cred_name",
    "fsync_batch",
    "median",
    "populate",
    "print_table",
    "secret_for",
    "stop_group",
    "wrong_code",
]

TENANT = "bench"
CALL_MODE_ENV = "BENCH_CALL"  # how bench/asgi_app.py calls the services: hop, direct, one-thread
NAME_FORMAT = "c%07d"  # also used verbatim by the wrk Lua script (string.format)
PERIOD = 30  # the credentials' TOTP period (the otpd default)
FREE_FAILURES = 100  # OTPD_THROTTLE_FREE_FAILURES of the servers: wrong codes never throttle
_SEED = b"otpd-bench-secrets"
_INSERT = (
    "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew, key_size,"
    " issuer, account_name, email, phone, created_at_us, secret, last_step, failures,"
    " not_before) VALUES (?, ?, ?, 'sha1', 6, ?, 1, 20, 'bench', ?, NULL, NULL, ?, ?, -1, 0, 0)"
)


class Meter:
    """A baseline run in slices (run(duration)), placed around or between the work it is
    compared with; `rate` is ops/s over all slices. `batch` does some ops, returns how many."""

    def __init__(self, batch: Callable[[], int]) -> None:
        self.batch = batch
        self.ops = 0
        self.seconds = 0.0

    def run(self, duration: float) -> None:
        start = time.perf_counter()
        while True:
            self.ops += self.batch()
            elapsed = time.perf_counter() - start
            if elapsed >= duration:
                self.seconds += elapsed
                return

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


def fsync_batch(path: Path) -> Callable[[], int]:
    """The disk baseline: one 4 KiB page written in place and fdatasync'ed (what a SQLite WAL
    commit with synchronous=FULL waits for), cycling over 1 MiB like a WAL being reused."""
    page = bytes(4096)
    path.write_bytes(bytes(256 * len(page)))
    turn = 0

    def batch() -> int:
        nonlocal turn
        fd = os.open(path, os.O_WRONLY)
        try:
            os.pwrite(fd, page, (turn % 256) * len(page))
            os.fdatasync(fd)
        finally:
            os.close(fd)
        turn += 1
        return 1

    return batch


def cred_name(index: int) -> str:
    return NAME_FORMAT % index


def secret_for(index: int) -> bytes:
    """Credential `index`'s 20-byte secret, recomputed instead of kept (1M would cost RAM)."""
    return hashlib.blake2b(index.to_bytes(8, "big"), key=_SEED, digest_size=20).digest()


def wrong_code(secret: bytes, now: int, period: int = PERIOD) -> str:
    """A 6-digit code that matches no step of a skew-1 window around `now`, nor of the next
    step's window (the clock may move on before the code is sent)."""
    window = {totp(secret, now + d * period, period, 6) for d in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in window)


def _rows(sealer: SealManager, count: int, created_us: int) -> Iterator[tuple[object, ...]]:
    for i in range(1, count + 1):
        blob = sealer.seal_secret(SecretBytes(secret_for(i)), tenant=TENANT, credential_id=i)
        name = cred_name(i)
        yield (i, TENANT, name, PERIOD, name, created_us, blob)


def _bulk_insert(db_path: Path, sealer: SealManager, count: int) -> None:
    """One transaction, executemany, ids 1..count; the id sequence is moved past them."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(_INSERT, _rows(sealer, count, time.time_ns() // 1000))
        conn.execute("UPDATE credential_id_seq SET value = ?", (count,))
        conn.execute("COMMIT")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def populate(data_dir: Path, count: int) -> float:
    """A data directory (seal key, schema, tenant) with `count` valid sealed credentials, named
    NAME_FORMAT % i with secret_for(i). Returns the seconds taken."""
    started = time.perf_counter()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = SqliteStore(data_dir / SQLITE_FILE, synchronous="NORMAL")
    try:
        sealer = open_seal(data_dir, store)
        compose_services(store, sealer, SystemClock(), label_prefix="Sbox").access.create_tenant(
            TENANT
        )
        # The tenant's first seal creates its data key (a write): before the bulk transaction.
        sealer.seal_secret(SecretBytes(secret_for(0)), tenant=TENANT, credential_id=0)
        _bulk_insert(data_dir / SQLITE_FILE, sealer, count)
    finally:
        store.close()
    return time.perf_counter() - started


def add_client(data_dir: Path, name: str, scopes: Sequence[Scope]) -> str:
    """Create an API client of TENANT in a populated data directory; returns its key."""
    store = SqliteStore(data_dir / SQLITE_FILE, synchronous="NORMAL")
    try:
        services = compose_services(
            store, open_seal(data_dir, store), SystemClock(), label_prefix="Sbox"
        )
        return services.access.create_client(TENANT, name, scopes)[1]
    finally:
        store.close()


def stop_group(proc: subprocess.Popen[Any]) -> None:
    """Stop a server started with start_new_session=True: SIGTERM to its process group (the
    workers are in it too), SIGKILL after 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [row[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join(parts)

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))
