"""Plumbing shared by the API benchmarks (token2_bench, strongbox_bench, phenixid_bench), so that
each keeps only its scenarios: `otpd serve` as a subprocess on a fresh data directory, the
otpd CLI (API clients), timed requests with their answers, and the one-client report.

The server runs with OTPD_THROTTLE_FREE_FAILURES=FREE_FAILURES (100), so the wrong-code
scenarios, which spread their failures over many credentials, never meet throttling.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from bench.common import FREE_FAILURES, TENANT, median, print_table, stop_group

__all__ = [
    "CLIENT",
    "Send",
    "Stats",
    "create_client",
    "otpd_cli",
    "otpd_env",
    "otpd_serve",
    "parse_args",
    "print_report",
    "served_client",
    "status",
    "timed",
    "timed_between",
    "timed_each",
]

REPO = Path(__file__).resolve().parent.parent
CLIENT = "app"  # the API client served_client makes
_READY = "otpd listening on "  # the line `otpd serve` prints once it answers

Send = Callable[[], httpx.Response]


# --- the server and the CLI ----------------------------------------------------------------
def otpd_env(sync: str = "FULL", log_level: str | None = None) -> dict[str, str]:
    """The caller's environment without its OTPD_* settings, plus the benchmark's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    env.update(
        PYTHONUNBUFFERED="1",
        OTPD_THROTTLE_FREE_FAILURES=str(FREE_FAILURES),
        OTPD_SQLITE_SYNCHRONOUS=sync,
    )
    if log_level is not None:
        env["OTPD_LOG_LEVEL"] = log_level
    return env


@contextlib.contextmanager
def otpd_serve(
    data_dir: Path, sync: str, *, log: Path | None = None, log_level: str | None = None
) -> Iterator[str]:
    """`otpd serve` (the real CLI, one worker, default settings but otpd_env) on a free port;
    yields its base URL once it answers. Its log (stderr) goes to `log`, or nowhere; `log_level`
    None keeps otpd's default (info: an audit line per request)."""
    command = [sys.executable, "-m", "otpd", "serve", "--data-dir", str(data_dir), "--port", "0"]
    with contextlib.ExitStack() as files:
        err: IO[bytes] | int = files.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=otpd_env(sync, log_level),
            cwd=REPO,
            start_new_session=True,
        )
    try:
        yield _ready_url(proc, log)
    finally:
        stop_group(proc)


def _ready_url(proc: subprocess.Popen[str], log: Path | None) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(_READY):
            return line.split()[-1]
        if not line and proc.poll() is not None:
            break
    raise RuntimeError("otpd serve did not start" + (f"; see {log}" if log else ""))


def otpd_cli(data_dir: Path, *args: str) -> str:
    """Run `otpd <args> --data-dir <data_dir>`; returns its stdout. Admin commands refuse a
    missing data directory (only serve and init make one), so it is made here."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    command = [sys.executable, "-m", "otpd", *args, "--data-dir", str(data_dir)]
    result = subprocess.run(command, capture_output=True, text=True, env=otpd_env(), check=True)
    return result.stdout


def create_client(data_dir: Path, scopes: str, name: str = CLIENT) -> str:
    """An API client of tenant TENANT made with `otpd client create`; returns its key."""
    args = ["--tenant", TENANT, "--name", name, "--scopes", scopes, "--json"]
    key: str = json.loads(otpd_cli(data_dir, "client", "create", *args))["key"]
    return key


@contextlib.contextmanager
def served_client(prefix: str, sync: str, scopes: str) -> Iterator[tuple[httpx.Client, str]]:
    """A fresh data directory (a temp dir named `prefix`...), `otpd serve` on it with log level
    warning (no audit line per request: it is not what is measured), an API client CLIENT of
    `scopes` made with the CLI, and one keep-alive httpx client, already connected: yields the
    httpx client and the API client's key."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        data_dir = Path(tmp) / "data"
        with otpd_serve(data_dir, sync, log_level="warning") as url:
            key = create_client(data_dir, scopes)
            with httpx.Client(base_url=url, timeout=30) as http:
                http.get("/healthz")  # connect outside the measurement
                yield http, key


# --- timed requests ------------------------------------------------------------------------
def _rate(latencies: list[float]) -> float:
    total = sum(latencies)
    return len(latencies) / total if total else 0.0


@dataclass
class Stats:
    """One scenario: each request's latency (s) and a count of its answers; end_round() marks
    where each round's requests end, for ratios taken within a round; `floor` holds the
    baseline requests measured between its own (timed_between)."""

    latencies: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)
    round_ends: list[int] = field(default_factory=list)
    floor: Stats | None = None  # the baseline requests timed_between interleaved with these

    @property
    def rate(self) -> float:
        """Requests per second of request time (one request at a time)."""
        return _rate(self.latencies)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def end_round(self) -> None:
        self.round_ends.append(len(self.latencies))
        if self.floor is not None:
            self.floor.end_round()

    def round_rates(self) -> list[float]:
        starts = [0, *self.round_ends[:-1]]
        return [_rate(self.latencies[a:b]) for a, b in zip(starts, self.round_ends, strict=True)]


def status(response: httpx.Response) -> str:
    return str(response.status_code)


def timed(stats: Stats, send: Send, answer: Callable[[httpx.Response], str]) -> httpx.Response:
    """Send one request, timing only the send; count `answer(response)`."""
    started = time.perf_counter()
    response = send()
    stats.latencies.append(time.perf_counter() - started)
    stats.answers[answer(response)] += 1
    return response


def timed_each(
    stats: Stats, sends: Iterable[Send], answer: Callable[[httpx.Response], str]
) -> list[httpx.Response]:
    """timed() for each request, in order; build `sends` (codes included) before calling."""
    return [timed(stats, send, answer) for send in sends]


def timed_between(
    stats: Stats,
    sends: Sequence[Send],
    answer: Callable[[httpx.Response], str],
    floor: Send,
    chunk: int = 20,
) -> list[httpx.Response]:
    """timed_each() with a baseline woven in: `chunk` `floor` requests (timed into stats.floor)
    before each chunk of `sends` and after the last one, so that a scenario and its baseline
    see the same moments of a noisy machine."""
    if stats.floor is None:
        stats.floor = Stats()
    responses: list[httpx.Response] = []
    for start in range(0, len(sends), chunk):
        timed_each(stats.floor, [floor] * chunk, status)
        responses += timed_each(stats, sends[start : start + chunk], answer)
    timed_each(stats.floor, [floor] * chunk, status)
    return responses


# --- flags and the report ------------------------------------------------------------------
def parse_args(
    doc: str | None, argv: Sequence[str] | None, count_flag: str, rounds: int
) -> argparse.Namespace:
    """The one-client benchmarks' flags: `count_flag` (requests per scenario per round, 200),
    --rounds, --sync FULL|NORMAL."""
    first = " ".join(doc.split("\n\n")[0].split()) if doc else None
    parser = argparse.ArgumentParser(description=first)
    parser.add_argument(count_flag, type=int, default=200, help="requests per scenario per round")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--sync", choices=("FULL", "NORMAL"), default="FULL")
    return parser.parse_args(argv)


def print_report(
    api: str,
    args: argparse.Namespace,
    n: int,
    stats: Mapping[str, Stats],
    floor: str = "healthz",
    per_round: bool = False,
) -> None:
    """A title line, then a table of `stats`: requests, req/s, median and p95 latency, the ratio
    to the `floor` scenario's req/s and the answers. The ratio is the whole run's (per_round
    False), or the median of the ratios taken within each round, followed by those; a
    scenario measured with timed_between is compared with its own woven-in baseline."""
    print(
        f"otpd {api} over HTTP, one keep-alive client, {args.rounds} rounds x {n}"
        f" requests per scenario, SQLite synchronous={args.sync}"
    )
    base = stats[floor]
    headers = ["scenario", "requests", "req/s", "median ms", "p95 ms", f"vs {floor}"]
    headers += ["per round"] if per_round else []
    rows = []
    for name, s in stats.items():
        row = [
            name,
            len(s.latencies),
            f"{s.rate:.0f}",
            f"{median(s.latencies) * 1000:.2f}",
            f"{s.percentile(0.95):.2f}",
        ]
        if per_round:
            pairs = zip(s.round_rates(), (s.floor or base).round_rates(), strict=True)
            ratios = [rate / floor_rate for rate, floor_rate in pairs if floor_rate]
            row.append(f"{median(ratios):.2f}" if ratios else "-")
            row.append(" ".join(f"{r:.2f}" for r in ratios))
        else:
            row.append(f"{s.rate / base.rate:.2f}" if base.rate else "-")
        row.append(" ".join(f"{a}:{c}" for a, c in sorted(s.answers.items())))
        rows.append(row)
    print_table([*headers, "answers"], rows)
