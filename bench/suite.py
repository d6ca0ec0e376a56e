"""The benchmark suite of issue #12: `python -m bench` (docs/performance.md).

For each SQLite synchronous mode (FULL, NORMAL) it starts the real server (`otpd serve`, the
installed CLI) on a fresh data directory and, in one run of that server:
- measures GET /healthz (the baseline) with wrk;
- for each size (1,000 then 1,000,000 credentials; --quick: 1,000 then 20,000) enrols the
  missing users with `otpd import --format otpauth` (progress bar on a terminal) and reports
  credentials/s; then drives, with wrk at 64 connections, each verification path with valid
  codes for distinct users and with wrong codes (Token2 /validate, PhenixID PUT, Strongbox
  verify-code), then Strongbox create and get-qr-code and Token2 createuser;
- at the last size, Token2 /validate valid codes again while another process syncs the disk;
- measures GET /healthz again.
Each row: requests/s, p50, p99, RSS per worker and the ratio to the mean of the two healthz
runs. The issue's targets are printed against the figures; nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.suite_load import (
    Answered,
    Line,
    cpu_seconds,
    rss_mb,
    run_wrk,
    worker_pids,
    write_requests,
)
from bench.suite_paths import (
    TENANT,
    Maker,
    Path_,
    Users,
    create_paths,
    otpauth_file,
    stepped_lines,
    verify_paths,
)
from bench.suite_report import print_report

__all__ = ["Row", "main"]

CLIENT = "bench"
FREE_FAILURES = 100  # the most otpd allows: wrong codes spread over users never meet throttling


@dataclass
class Row:
    sync: str
    size: int
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    rss_mb: float  # the largest worker's
    cpu_us: float  # the workers' CPU time (user + system) per answered request, microseconds
    ok: int  # answers as expected (valid: accepted; wrong: rejected)
    other: int
    wrapped: int  # valid-code requests that had to reuse a user within its second
    errors: int


@dataclass
class Enrolment:
    sync: str
    size: int
    rows: int
    seconds: float  # the whole `otpd import` command
    startup: float  # the same command's dry run of one user: process start, imports, seal

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def net_rate(self) -> float:
        """Credentials/s without the command's start-up."""
        net = self.seconds - self.startup
        return self.rows / net if net > 0 else 0.0


# --- the server and the CLI -----------------------------------------------------------------
def _env(sync: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    env.update(
        PYTHONUNBUFFERED="1",
        OTPD_SQLITE_SYNCHRONOUS=sync,
        OTPD_THROTTLE_FREE_FAILURES=str(FREE_FAILURES),
    )
    return env


def _otpd() -> list[str]:
    return [sys.executable, "-m", "otpd"]


def cli(data_dir: Path, sync: str, *args: str) -> str:
    # Admin commands refuse a missing data directory (only serve and init make one).
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = [*_otpd(), *args, "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(sync), check=False)
    if done.returncode:
        raise RuntimeError(f"otpd {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def serve(
    data_dir: Path, sync: str, workers: int, log: Path, *, pin: bool = False
) -> Iterator[tuple[str, int]]:
    """`otpd serve --port 0` in its own process group; yields (base URL, group id). `pin`:
    OTPD_PIN_WORKERS=true (docs/performance.md#one-cpu-per-worker)."""
    command = [*_otpd(), "serve", "--data-dir", str(data_dir), "--port", "0"]
    command += ["--workers", str(workers)]
    env = _env(sync)
    if pin:
        env["OTPD_PIN_WORKERS"] = "true"
    with log.open("ab") as err:
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        url = ""
        while not url and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line.startswith("otpd listening on "):
                url = line.split()[-1]
            elif not line and proc.poll() is not None:
                break
        if not url:
            raise RuntimeError(f"otpd serve did not start; see {log}")
        yield url, proc.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()


def http_json(url: str, method: str, body: dict[str, str] | None = None) -> dict[str, Any]:
    import urllib.request

    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, method=method)  # noqa: S310 - our own server
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        result: dict[str, Any] = json.loads(answer.read())
        return result


# --- one run --------------------------------------------------------------------------------
@dataclass
class Server:
    url: str
    group: int
    work: Path
    args: argparse.Namespace
    sync: str

    def measure(self, size: int, path: Path_, lines: Sequence[Line] | Iterator[Line]) -> Row:
        requests = self.work / (path.name.replace(" ", "-") + ".txt")
        write_requests(requests, lines)
        if path.stepped:  # start on a second boundary: no user spans two runs in one second
            time.sleep(1 - time.time() % 1)
        workers = worker_pids(self.group)
        cpu_before = cpu_seconds(workers)
        answered: Answered = run_wrk(
            self.url,
            requests,
            connections=self.args.connections,
            seconds=self.args.seconds,
            status=path.status,
            needle=path.needle,
            headers=path.headers,
        )
        cpu = cpu_seconds(workers) - cpu_before
        rss = max((rss_mb(pid) for pid in worker_pids(self.group)), default=0.0)
        load = answered.load
        cpu_us = cpu / load.requests * 1e6 if load.requests else 0.0
        return Row(
            self.sync, size, path.name, load.rps, load.p50_ms, load.p99_ms, rss, cpu_us,
            answered.ok, answered.bad, answered.wrapped, load.errors,
        )  # fmt: skip

    def healthz(self, size: int, name: str) -> Row:
        return self.measure(size, Path_(name), [Line(0, "GET", "/healthz")])


def _probe(server: Server, key: str) -> int:
    """A Token2 createuser: the id it got is the newest id."""
    url = f"{server.url}/createuser?api_key={key}&phone=41791234567&format=1"
    return int(http_json(url, "GET")["userid"])


def _import(server: Server, data_dir: Path, source: Path, *extra: str) -> float:
    """`otpd import` of an otpauth file; returns the seconds the command took."""
    command = [*_otpd(), "import", "--tenant", TENANT, "--format", "otpauth", *extra]
    # carried: fresh users with no old server behind them, so no replay floor (the default
    # `now` floor would spend the next seconds' codes of these 1 s-period users)
    command += ["--replay-floor", "carried", "--data-dir", str(data_dir), str(source)]
    started = time.perf_counter()
    # stderr is the caller's: on a terminal `otpd import` draws its progress bar there
    subprocess.run(command, env=_env(server.sync), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def enrol(server: Server, data_dir: Path, users: Users, size: int, key: str) -> Enrolment | None:
    """Import the users up to `size` between two Token2 createuser probes: ids are allocated in
    file order, so when the probes are `rows` + 1 apart the import got the ids between them.
    The time of a one-user dry run (the command's start-up) is measured too."""
    if size <= users.count:
        return None
    time.sleep(2)  # let the requests a previous wrk run left in flight finish
    source = server.work / f"users-{size}.otpauth"
    otpauth_file(source, size + 1, size + 1)
    startup = _import(server, data_dir, source, "--dry-run")
    otpauth_file(source, users.count + 1, size)
    before = _probe(server, key)
    seconds = _import(server, data_dir, source)
    after = _probe(server, key)
    rows = size - users.count
    if after - before != rows + 1:
        print(f"warning: other credentials were created during the import of {size:,} users;"
              " Token2 rows will show rejected valid codes", file=sys.stderr)  # fmt: skip
    users.add(rows, before)
    source.unlink()
    return Enrolment(server.sync, size, rows, seconds, startup)


def _fsync_loop(directory: str) -> None:
    """Another process syncing the same disk: 4 KiB written and fdatasync'ed, forever."""
    path = os.path.join(directory, "fsync-loop.bin")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    page = bytes(4096)
    turn = 0
    while True:
        os.pwrite(fd, page, (turn % 256) * len(page))
        os.fdatasync(fd)
        turn += 1


def one_size(
    server: Server, users: Users, size: int, key: str, bearer: str, basic: str, last: bool
) -> list[Row]:
    args = server.args
    steps = args.seconds + 3  # wrk's start and end, and the file written before it starts
    pool = users.pool(args.per_step * steps, seed=size)
    rows = []
    for path, kind, valid in verify_paths(key, bearer, basic):
        first = int(time.time()) + 1
        make = Maker(kind, users, key, valid)
        rows.append(
            server.measure(size, path, stepped_lines(pool, first, steps, args.per_step, make))
        )
    tag = f"{server.sync}-{size}"
    for path, lines in create_paths(key, bearer, tag, pool[:5000], args.seconds * 3000):
        rows.append(server.measure(size, path, lines))
    if last:
        path, kind, valid = verify_paths(key, bearer, basic)[0]
        loop = multiprocessing.Process(target=_fsync_loop, args=(str(server.work),), daemon=True)
        loop.start()
        try:
            first = int(time.time()) + 1
            make = Maker(kind, users, key, valid)
            loaded = stepped_lines(pool[::-1], first, steps, args.per_step, make)
            rows.append(server.measure(size, Path_(path.name + " +fsync", *_rest(path)), loaded))
        finally:
            loop.kill()
            loop.join()
    return rows


def _rest(path: Path_) -> tuple[int, str, tuple[str, ...], bool]:
    return path.status, path.needle, path.headers, path.stepped


def run_mode(args: argparse.Namespace, sync: str, root: Path) -> tuple[list[Row], list[Enrolment]]:
    work = root / sync.lower()
    work.mkdir()
    data_dir = work / "data"
    data_dir.mkdir(mode=0o700)  # admin commands need an existing data directory
    cli(data_dir, sync, "tenant", "create", TENANT)
    scopes = "read,write,verify,reveal"
    made = cli(data_dir, sync, "client", "create", "--tenant", TENANT, "--name", CLIENT,
               "--scopes", scopes, "--json")  # fmt: skip
    key = json.loads(made)["key"]
    basic = base64.b64encode(f"{CLIENT}:{key}".encode()).decode()
    rows: list[Row] = []
    enrolments: list[Enrolment] = []
    with serve(data_dir, sync, args.workers, work / "server.log", pin=args.pin_workers) as (
        url,
        group,
    ):
        server = Server(url, group, work, args, sync)
        bearer = http_json(url + "/v1/login", "POST", {"username": CLIENT, "password": key})
        token = str(bearer["token"])
        server.healthz(0, "healthz (warm-up)")
        rows.append(server.healthz(0, "healthz before"))
        users = Users()
        for n, size in enumerate(args.sizes):
            enrolment = enrol(server, data_dir, users, size, key)
            if enrolment is not None:
                enrolments.append(enrolment)
            last = n == len(args.sizes) - 1
            rows += one_size(server, users, size, key, token, basic, last)
        rows.append(server.healthz(0, "healthz after"))
    return rows, enrolments


# --- flags ----------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 and 20,000 users, 5 s a path")
    parser.add_argument("--sizes", help="credential counts, comma-separated (1000,1000000)")
    parser.add_argument("--seconds", type=int, help="wrk seconds per path (10; --quick 5)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--sync", default="FULL,NORMAL", help="synchronous modes, in order")
    parser.add_argument("--workers", type=int, default=1, help="otpd serve --workers")
    parser.add_argument(
        "--pin-workers", action="store_true", help="OTPD_PIN_WORKERS=true: one CPU per worker"
    )
    parser.add_argument("--per-step", type=int, default=1500, help="distinct users per second")
    parser.add_argument("--dir", type=Path, help="where the data directories go (a real disk)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs and server logs")
    args = parser.parse_args(argv)
    default_sizes = "1000,20000" if args.quick else "1000,1000000"
    args.sizes = [int(s) for s in (args.sizes or default_sizes).split(",")]
    args.seconds = args.seconds or (5 if args.quick else 10)
    args.syncs = [s.strip().upper() for s in args.sync.split(",")]
    if any(s not in ("FULL", "NORMAL") for s in args.syncs):
        parser.error("--sync takes FULL and/or NORMAL")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("the suite needs wrk (apt-get install -y wrk)", file=sys.stderr)
        return 2
    root = Path(tempfile.mkdtemp(prefix="otpd-bench-suite-", dir=args.dir))
    rows: list[Row] = []
    enrolments: list[Enrolment] = []
    try:
        for sync in args.syncs:
            mode_rows, mode_enrolments = run_mode(args, sync, root)
            rows += mode_rows
            enrolments += mode_enrolments
    finally:
        if args.keep:
            print(f"data directories and server logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    print_report(args, rows, enrolments)
    if args.json:
        report = {
            "rows": [asdict(r) for r in rows],
            "enrolments": [
                {**asdict(e), "rate": e.rate, "net_rate": e.net_rate} for e in enrolments
            ],
        }
        args.json.write_text(json.dumps(report, indent=1))
    return 0
