"""`otpd import` throughput into SQLite (issue #17 asks for at least 5,000 credentials/s).

Three figures from one run, on fresh data directories with synchronous=FULL:
- baseline: a bare `executemany` of the same rows (pre-sealed blobs) in transactions of the
  same batch size: the floor SQLite itself sets on this machine;
- otpd: `run_import` of an otpauth file (parse, otpd's checks, sealing with AES-256-GCM,
  batches through BulkService), the work `otpd import` does;
- parse only: the otpauth parser and the checks, no writes.
Printed as rows/s and as the ratio otpd/baseline.

With `--database postgresql://...` (an empty database) or `--postgres` (a throw-away durable
PostgreSQL 15, tests/support/pgserver.py), a fourth figure: the same `run_import` into
PostgreSQL, as a ratio to the otpd-into-SQLite figure of the same run.

    .venv/bin/python -m bench.import_bench [--rows 20000] [--batch 1000] [--postgres]
"""

from __future__ import annotations

import argparse
import base64
import os
import sqlite3
import tempfile
import time
from pathlib import Path

from otpd.bootstrap import compose_services
from otpd.clock import SystemClock
from otpd.core.bulk import Conflict
from otpd.core.model import Principal, Scope
from otpd.core.ports import CredentialStore
from otpd.crypto import open_seal
from otpd.store.postgres import PostgresStore
from otpd.store.sqlite import SqliteStore
from otpd.transfer.formats import PARSERS, ParseOptions
from otpd.transfer.importer import ImportOptions, ReplayFloor, run_import

SCOPES = frozenset({Scope.WRITE, Scope.READ})


def otpauth_file(rows: int) -> bytes:
    lines = []
    for i in range(rows):
        secret = base64.b32encode(i.to_bytes(4, "big") * 5).decode().rstrip("=")
        lines.append(f"otpauth://totp/Bench:user{i:07d}?secret={secret}&issuer=Bench\n")
    return "".join(lines).encode()


def bench_otpd(data: bytes, batch: int, workdir: Path, database: str | None = None) -> float:
    store: CredentialStore = (
        PostgresStore(database) if database else SqliteStore(workdir / "otpd.sqlite3")
    )
    services = compose_services(
        store, open_seal(workdir, store), SystemClock(), label_prefix="Sbox"
    )
    services.access.create_tenant("bench")
    options = ImportOptions(
        format="otpauth",
        on_conflict=Conflict.SKIP,
        replay_floor=ReplayFloor.parse("now+1"),
        batch_size=batch,
    )
    start = time.perf_counter()
    report = run_import(services.bulk, Principal("bench", "b", SCOPES), data, options)
    elapsed = time.perf_counter() - start
    assert report.count("imported") == len(report.rows)
    store.close()
    return len(report.rows) / elapsed


def bench_baseline(rows: int, batch: int, workdir: Path) -> float:
    """The same rows and columns straight into otpd's schema: no parsing, checks or sealing."""
    store = SqliteStore(workdir / "otpd.sqlite3")
    store.close()
    conn = sqlite3.connect(workdir / "otpd.sqlite3", isolation_level=None)
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("INSERT INTO tenant (id, settings, created_at) VALUES ('bench', '{}', 0)")
    blob = os.urandom(48)
    values = [
        (i + 1, "bench", f"user{i:07d}", "sha1", 6, 30, 1, 20, "Bench", f"user{i:07d}", 0, blob)
        for i in range(rows)
    ]
    sql = (
        "INSERT INTO credential (id, tenant, name, algorithm, digits, period, skew, key_size,"
        " issuer, account_name, created_at_us, secret) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
    )
    start = time.perf_counter()
    for first in range(0, rows, batch):
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, values[first : first + batch])
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return rows / elapsed


def bench_parse(data: bytes) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in PARSERS["otpauth"](data, ParseOptions()))
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--database", help="also import into this empty PostgreSQL database")
    parser.add_argument("--postgres", action="store_true", help="start a throw-away one for it")
    args = parser.parse_args()
    data = otpauth_file(args.rows)
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        baseline = bench_baseline(args.rows, args.batch, Path(a))
        otpd = bench_otpd(data, args.batch, Path(b))
    parse = bench_parse(data)
    print(f"rows={args.rows} batch={args.batch} (SQLite synchronous=FULL)")
    print(f"baseline executemany : {baseline:12,.0f} rows/s")
    print(f"otpd import          : {otpd:12,.0f} rows/s  ({otpd / baseline:.2f} x baseline)")
    print(f"parse + checks only  : {parse:12,.0f} rows/s")
    if args.database or args.postgres:
        pg = bench_postgres(data, args.batch, args.database)
        print(f"otpd import into PG  : {pg:12,.0f} rows/s  ({pg / otpd:.2f} x otpd into SQLite)")


def bench_postgres(data: bytes, batch: int, database: str | None) -> float:
    """run_import into PostgreSQL (fsync and synchronous_commit on)."""
    from tests.support.pgserver import PgServer  # only when asked: it needs PostgreSQL installed

    if database:
        with tempfile.TemporaryDirectory() as workdir:
            return bench_otpd(data, batch, Path(workdir), database)
    server = PgServer(durable=True).init()
    try:
        with tempfile.TemporaryDirectory() as workdir:
            return bench_otpd(data, batch, Path(workdir), server.create_database("importbench"))
    finally:
        server.destroy()


if __name__ == "__main__":
    main()
