"""Pick the ASGI server, and the thread hop, by measurement over real HTTP.

The real otpd app (bench/asgi_app.py: create_app with OTPD_* settings on a temp data dir, the
logging of `otpd serve`) runs under each variant, one worker process, on a free 127.0.0.1 port:

  uvicorn             uvicorn with uvloop + httptools, the app as it is (run_in_threadpool)
  uvicorn direct      the same, with the adapters' run_in_threadpool monkeypatched in the
                      server process to call the service on the event loop (no thread hop)
  uvicorn one-thread  the same, with run_in_threadpool monkeypatched to a pool of one thread:
                      the hop stays, SQLite write-lock contention between threads goes
  granian             granian --interface asgi (uvloop), the app as it is

A load generator in another process (wrk -t1 with --connections, else bench/loadgen.py) drives
GET /healthz and POST .../verify-code with a wrong code, round-robin over --credentials
credentials (bulk-populated before the servers start; one login per server start). Each
measurement follows a discarded warm-up; the disk's fsync/s is probed for 0.25 s before and
after it and shown beside it, since with synchronous=FULL every failure write waits for it.
Rounds alternate the variant order, and every ratio is taken within one round, then the
median over rounds is shown with the per-round values: granian/uvicorn for the server
choice, variant/run_in_threadpool for the thread hop.

Throttling: the servers run with OTPD_THROTTLE_FREE_FAILURES=100 and failures are spread
round-robin; the largest failure count reached is printed at the end as a check.

Usage: .venv/bin/python -m bench.server_choice [--duration 3] [--rounds 3] [--sync FULL,NORMAL]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.asgi_app import hop_references
from bench.common import (
    CALL_MODE_ENV,
    FREE_FAILURES,
    Meter,
    add_client,
    fsync_batch,
    median,
    populate,
    print_table,
    stop_group,
)
from bench.loadgen import Load, Measurement, run_python, run_wrk
from otpd.bootstrap import SQLITE_FILE
from otpd.core.model import Scope

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CLIENT = "bench-client"
TARGET = "bench.asgi_app:make_app"
HEALTHZ = Load("GET", "/healthz")
_GONE = "starlette.requests.ClientDisconnect"


@dataclass(frozen=True)
class Variant:
    server: str
    call: str = "hop"  # bench/asgi_app.py: hop, direct, one-thread

    @property
    def label(self) -> str:
        return self.server + ("" if self.call == "hop" else " " + self.call)


UVICORN = Variant("uvicorn")
UVICORN_DIRECT = Variant("uvicorn", "direct")
UVICORN_ONE_THREAD = Variant("uvicorn", "one-thread")
GRANIAN = Variant("granian")
VARIANTS = (UVICORN, UVICORN_DIRECT, UVICORN_ONE_THREAD, GRANIAN)
Key = tuple[Variant, str, str]  # variant, endpoint, synchronous ("-" for /healthz)


@dataclass
class Context:
    args: argparse.Namespace
    work: Path
    key: str
    rng: random.Random
    results: dict[Key, list[Measurement]] = field(default_factory=dict)
    disk: dict[Key, list[float]] = field(default_factory=dict)  # fsync/s around each run

    @property
    def data_dir(self) -> Path:
        return self.work / "data"


# --- servers -----------------------------------------------------------------------------
def _command(server: str, port: int) -> list[str]:
    where = ["--host", HOST, "--port", str(port)]
    if server == "uvicorn":
        options = ["--factory", "--loop", "uvloop", "--http", "httptools", "--lifespan", "on"]
        options += ["--no-access-log", "--no-server-header", "--log-level", "warning"]
        return [sys.executable, "-m", "uvicorn", *where, *options, TARGET]
    options = ["--interface", "asgi", "--factory", "--workers", "1", "--loop", "uvloop"]
    options += ["--log-level", "warning"]
    return [sys.executable, "-m", "granian", *where, *options, TARGET]


def _env(ctx: Context, variant: Variant, synchronous: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTPD_", "GRANIAN_"))}
    env.update(
        OTPD_DATA_DIR=str(ctx.data_dir),
        OTPD_SQLITE_SYNCHRONOUS=synchronous,
        OTPD_THROTTLE_FREE_FAILURES=str(FREE_FAILURES),
        OTPD_LOG_LEVEL=ctx.args.log_level,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    env[CALL_MODE_ENV] = variant.call
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _log_path(ctx: Context, variant: Variant) -> Path:
    return ctx.work / (variant.label.replace(" ", "-") + ".log")


def _wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(url + "/healthz", timeout=1),  # noqa: S310 (our URL)
        ):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} not ready within 30 s; see {log_path}")


@contextlib.contextmanager
def running_server(ctx: Context, variant: Variant, synchronous: str) -> Iterator[int]:
    port = _free_port()
    log_path = _log_path(ctx, variant)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            _command(variant.server, port),
            env=_env(ctx, variant, synchronous),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_ready(f"http://{HOST}:{port}", proc, log_path)
            yield port
        finally:
            stop_group(proc)  # granian's worker is in the group too


# --- load --------------------------------------------------------------------------------
def _login(port: int, key: str) -> str:
    body = json.dumps({"username": CLIENT, "password": key}).encode()
    request = urllib.request.Request(
        f"http://{HOST}:{port}/v1/login",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (our URL)
        token: str = json.loads(response.read())["token"]
    return token


def _verify_load(ctx: Context, token: str) -> Load:
    """Wrong codes ("000000" matches a window one time in ~330,000: harmless here)."""
    count = ctx.args.credentials
    return Load(
        "POST",
        "/v1/state/strongbox/totp/",
        "/verify-code",
        names=count,
        offset=ctx.rng.randrange(count),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        body='{"code": "000000"}',
    )


def _generate(ctx: Context, port: int, load: Load, seconds: int) -> Measurement:
    connections = ctx.args.connections
    if ctx.args.loadgen == "wrk":
        url = f"http://{HOST}:{port}"
        return run_wrk(url, load, connections, seconds, ctx.work / "load.lua")
    return run_python(HOST, port, load, connections, seconds)


def _measure(ctx: Context, port: int, load: Load, key: Key, round_no: int) -> None:
    """Warm-up, measurement, and the disk's fsync/s for a quarter second before and after
    (with synchronous=FULL every failure write waits for the disk)."""
    disk = Meter(fsync_batch(ctx.work / "fsync-probe"))
    disk.run(0.25)
    _generate(ctx, port, load, ctx.args.warmup)  # warm-up, discarded
    result = _generate(ctx, port, load, ctx.args.duration)
    disk.run(0.25)
    ctx.results.setdefault(key, []).append(result)
    ctx.disk.setdefault(key, []).append(disk.rate)
    variant, endpoint, synchronous = key
    print(
        f"round {round_no} {variant.label:<18} {endpoint:<11} sync={synchronous:<6}"
        f" {result.rps:6,.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms"
        f"  errors {result.errors}  disk {disk.rate:6,.0f} fsync/s",
        flush=True,
    )


def run_round(ctx: Context, round_no: int) -> None:
    variants = [v for v in VARIANTS if v.server in ctx.args.servers]
    if round_no % 2 == 0:
        variants.reverse()  # alternate the order so slow drift does not favour one variant
    for synchronous in ctx.args.sync:
        for variant in variants:
            with running_server(ctx, variant, synchronous) as port:
                if variant in (UVICORN, GRANIAN) and synchronous == ctx.args.sync[0]:
                    _measure(ctx, port, HEALTHZ, (variant, "healthz", "-"), round_no)
                load = _verify_load(ctx, _login(port, ctx.key))
                _measure(ctx, port, load, (variant, "verify-code", synchronous), round_no)


# --- report ------------------------------------------------------------------------------
def _ratio(ctx: Context, top: Key, bottom: Key) -> str:
    """Median of the per-round ratios of req/s, then the per-round values."""
    pairs = zip(ctx.results.get(top, []), ctx.results.get(bottom, []), strict=False)
    ratios = [t.rps / b.rps for t, b in pairs if b.rps]
    if not ratios:
        return "-"
    return f"{median(ratios):.2f} ({', '.join(f'{r:.2f}' for r in ratios)})"


def _row(ctx: Context, key: Key, label: str, ratio: str) -> list[object]:
    runs = ctx.results.get(key, [])
    return [
        label,
        key[2],
        f"{median([m.rps for m in runs]):,.0f}",
        f"{median([m.p50_ms for m in runs]):.2f}",
        f"{median([m.p99_ms for m in runs]):.2f}",
        sum(m.errors for m in runs),
        f"{median(ctx.disk.get(key, [])):,.0f}",
        ratio,
    ]


def print_server_table(ctx: Context) -> None:
    print("\nserver choice: median over rounds; ratio = granian req/s / uvicorn req/s per round")
    headers = ["endpoint / server", "sync", "req/s", "p50 ms", "p99 ms", "errors", "fsync/s"]
    headers.append("ratio")
    rows: list[list[object]] = []
    for endpoint, synchronous in [("healthz", "-")] + [("verify-code", s) for s in ctx.args.sync]:
        uvicorn, granian = (UVICORN, endpoint, synchronous), (GRANIAN, endpoint, synchronous)
        rows.append(_row(ctx, uvicorn, f"{endpoint} uvicorn", "1.00"))
        rows.append(_row(ctx, granian, f"{endpoint} granian", _ratio(ctx, granian, uvicorn)))
    print_table(headers, rows)


def print_hop_table(ctx: Context) -> None:
    print("\nthread hop, uvicorn, verify-code: ratio = variant req/s / run_in_threadpool req/s")
    headers = ["variant", "sync", "req/s", "p50 ms", "p99 ms", "errors", "fsync/s", "ratio"]
    others = ((UVICORN_ONE_THREAD, "one-thread pool"), (UVICORN_DIRECT, "direct call"))
    rows: list[list[object]] = []
    for synchronous in ctx.args.sync:
        hop: Key = (UVICORN, "verify-code", synchronous)
        rows.append(_row(ctx, hop, "run_in_threadpool", "1.00"))
        for variant, label in others:
            key: Key = (variant, "verify-code", synchronous)
            rows.append(_row(ctx, key, label, _ratio(ctx, key, hop)))
    print_table(headers, rows)


def print_checks(ctx: Context) -> None:
    with contextlib.closing(sqlite3.connect(ctx.data_dir / SQLITE_FILE)) as conn:
        most, throttled = conn.execute(
            "SELECT MAX(failures), COALESCE(SUM(not_before > 0), 0) FROM credential"
        ).fetchone()
    print(f"\nchecks: most failures on one credential {most} (backoff from {FREE_FAILURES});")
    print(f"        credentials throttled: {throttled}")
    for variant in VARIANTS:
        path = _log_path(ctx, variant)
        if path.exists():
            audit, errors, gone = _count_lines(path, " otpd.audit ", " otpd.error ", _GONE)
            print(
                f"        {variant.label}: {audit:,} audit log lines; {errors} unhandled errors"
                f" logged, {gone} of them ClientDisconnect (a load generator stopping)"
            )


def _count_lines(path: Path, *needles: str) -> list[int]:
    counts = [0] * len(needles)
    with path.open(errors="replace") as lines:
        for line in lines:
            for i, needle in enumerate(needles):
                counts[i] += needle in line
    return counts


def print_header(ctx: Context) -> None:
    args = ctx.args
    versions = ", ".join(
        f"{name} {importlib.metadata.version(name)}" for name in ("uvicorn", "granian", "uvloop")
    )
    print(f"python {sys.version.split()[0]}, {versions}; {os.cpu_count()} CPUs")
    print(
        f"load: {args.loadgen}, {args.connections} connections, {args.warmup:g} s warm-up +"
        f" {args.duration:g} s per measurement, {args.rounds} round(s);"
        f" {args.credentials:,} credentials; log level {args.log_level}",
    )
    hops = ", ".join(f"{module}.{name}" for module, name in hop_references())
    print(f"'direct' and 'one-thread' rebind: {hops}", flush=True)


# --- main --------------------------------------------------------------------------------
def _csv(kind: Callable[[str], str]) -> Callable[[str], list[str]]:
    return lambda text: [kind(part) for part in text.split(",") if part]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=3, help="seconds per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="discarded seconds before")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--credentials", type=int, default=10_000)
    parser.add_argument("--sync", type=_csv(str.upper), default=["FULL", "NORMAL"])
    parser.add_argument("--servers", type=_csv(str.lower), default=["uvicorn", "granian"])
    parser.add_argument("--log-level", default="info", help="otpd log level (serve: info)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server logs)")
    args = parser.parse_args(argv)
    if args.loadgen == "auto":
        args.loadgen = "wrk" if shutil.which("wrk") else "python"
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="otpd-bench-server-"))
    try:
        populate(work / "data", args.credentials)
        key = add_client(work / "data", CLIENT, [Scope.VERIFY])
        ctx = Context(args, work, key, random.Random(args.seed))
        print_header(ctx)
        for round_no in range(1, args.rounds + 1):
            run_round(ctx, round_no)
        print_server_table(ctx)
        print_hop_table(ctx)
        print_checks(ctx)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
