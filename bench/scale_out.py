"""Verifications per second with 1, 2 and 4 `otpd serve` instances on one SQLite data directory
and on one PostgreSQL database (issue #11, docs/scale-out.md), as ratios against one SQLite
instance measured in the same run.

The deployment: --credentials bulk-populated credentials (bench/common.py) in SQLite, copied to
a throw-away PostgreSQL 15 (tests/support/pgserver.py: initdb and pg_ctl on a free port, with
fsync and synchronous_commit on, as SQLite runs with synchronous=FULL) with
`otpd copy`, so both backends hold the same rows. Each instance has one worker and log level
warning. The load: Strongbox verify-code with a wrong code, round-robin over the credentials
(a lookup, an unseal, three HMACs and one failure write per request; free failures at 100, so
nothing is throttled), --connections keep-alive connections in all, split evenly over the
instances, one bench/loadgen.py process per instance, all at once.

Read the ratios, not the absolute numbers: the machine also runs the load generators and
PostgreSQL, so on a two-core machine more instances share the same two cores.

Usage: .venv/bin/python -m bench.scale_out [--seconds 3] [--credentials 2000] [--connections 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

import httpx
from tests.support.pgserver import PgServer

from bench.common import TENANT, add_client, populate, print_table, stop_group
from bench.http_bench import REPO, _ready_url, otpd_env
from bench.loadgen import Load, Measurement
from otpd.bootstrap import SQLITE_FILE
from otpd.core.model import Scope

INSTANCES = (1, 2, 4)


@contextlib.contextmanager
def _instances(dirs: Sequence[Path], database: str | None) -> Iterator[list[str]]:
    procs: list[subprocess.Popen[str]] = []
    try:
        for data_dir in dirs:
            command = [sys.executable, "-m", "otpd", "serve", "--data-dir", str(data_dir)]
            command += ["--port", "0"] + (["--database", database] if database else [])
            env = otpd_env(log_level="warning")
            procs.append(
                subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    env=env,
                    cwd=REPO,
                    start_new_session=True,
                )
            )
        yield [_ready_url(proc, None) for proc in procs]
    finally:
        for proc in procs:
            stop_group(proc)


def _login(url: str, key: str) -> str:
    response = httpx.post(url + "/v1/login", json={"username": "app", "password": key}, timeout=30)
    response.raise_for_status()
    token: str = response.json()["token"]
    return token


def _measure(
    urls: Sequence[str], token: str, names: int, connections: int, seconds: float
) -> Measurement:
    per = max(1, connections // len(urls))
    procs = []
    for i, url in enumerate(urls):
        load = Load(
            "POST",
            "/v1/state/strongbox/totp/",
            "/verify-code",
            names=names,
            offset=i * (names // len(urls)),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body='{"code": "000000"}',
        )
        host, port = url.removeprefix("http://").split(":")
        spec = json.dumps([host, int(port), asdict(load), per, seconds])
        command = [sys.executable, "-m", "bench.loadgen", spec]
        procs.append(subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=REPO))
    results = [Measurement(**json.loads(p.communicate()[0])) for p in procs]
    requests = sum(r.requests for r in results)
    elapsed = max(r.seconds for r in results)
    p50 = max(r.p50_ms for r in results)
    p99 = max(r.p99_ms for r in results)
    errors = sum(r.errors for r in results)
    return Measurement(requests, elapsed, p50, p99, errors, errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--credentials", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otpd-scale-") as tmp:
        root = Path(tmp)
        lite = root / "sqlite"
        populate(lite, args.credentials)
        key = add_client(lite, "app", [Scope.VERIFY, Scope.READ])
        pg = PgServer(durable=True).init()
        try:
            pg_url = pg.create_database("bench")
            copied = subprocess.run(
                [sys.executable, "-m", "otpd", "copy", "--from", f"sqlite:///{lite / SQLITE_FILE}",
                 "--to", pg_url],
                capture_output=True, text=True, env=otpd_env(), check=True,
            )  # fmt: skip
            assert json.loads(copied.stdout)["credential"] == args.credentials, copied.stdout
            nodes = [root / f"node{i}" for i in range(max(INSTANCES))]
            for node in nodes:
                node.mkdir(mode=0o700)
                shutil.copy2(lite / "seal.key", node / "seal.key")
            rows = []
            base = 0.0
            for backend, database in (("sqlite", None), ("postgresql", pg_url)):
                for n in INSTANCES:
                    dirs = [lite] * n if database is None else nodes[:n]
                    with _instances(dirs, database) as urls:
                        token = _login(urls[0], key)
                        m = _measure(urls, token, args.credentials, args.connections, args.seconds)
                    base = base or m.rps
                    rows.append(
                        (f"{backend} x{n}", f"{m.rps:.0f}", f"{m.rps / base:.2f}",
                         f"{m.p50_ms:.1f}", f"{m.p99_ms:.1f}", m.errors)
                    )  # fmt: skip
        finally:
            pg.destroy()
    print(f"{args.credentials} credentials, tenant {TENANT}, {args.connections} connections")
    print_table(["instances", "verif/s", "vs sqlite x1", "p50 ms", "p99 ms", "errors"], rows)
    lite1, pg1 = float(rows[0][1]), float(rows[len(INSTANCES)][1])
    print(f"PostgreSQL cost per verification relative to SQLite (1 instance): {lite1 / pg1:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
