"""Token2 over real HTTP: createuser and validate (valid and wrong codes), as ratios against
GET /healthz measured in the same run (issue #5).

Starts `otpd serve` on a free port with a fresh data directory (like the tests, as a
subprocess), creates an API client with the CLI, then runs `--rounds` rounds; each round runs,
with one keep-alive HTTP client and one request at a time:

  healthz          GET /healthz: the floor (HTTP, middleware, routing, a JSON body)
  createuser       POST /createuser?...&format=1: key check, a 20-byte secret sealed with
                   AES-GCM, the credential insert and the ticket insert (two commits)
  validate-valid   GET /validate with the current code of a user created this round, each
                   user once: key check, lookup, unseal, 3 HMACs, advance() (one commit)
  validate-wrong   GET /validate with a wrong code, round-robin over all users: the same
                   work and a failure write (one commit); with OTPD_THROTTLE_FREE_FAILURES=100
                   no user is throttled (the `answers` column shows "false" only)

Running every scenario in each round spreads a noisy machine's moments over all of them.
`vs healthz` = req/s of the scenario / req/s of healthz: 0.5 means the call costs twice the
floor. Codes are computed before each timed chunk. `--sync NORMAL` runs the server with
OTPD_SQLITE_SYNCHRONOUS=NORMAL (no fsync per commit) to show how much of a write is the disk.

Usage: .venv/bin/python -m bench.token2_bench [--users 200] [--rounds 3] [--sync FULL]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx

from otpd.core.otp import totp

SCENARIOS = ("healthz", "createuser", "validate-valid", "validate-wrong")


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    answers: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        total = sum(self.latencies)
        return len(self.latencies) / total if total else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


@dataclass
class User:
    userid: int
    secret: bytes


def _env(sync: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    env.update(
        PYTHONUNBUFFERED="1",
        OTPD_THROTTLE_FREE_FAILURES="100",
        OTPD_SQLITE_SYNCHRONOUS=sync,
        OTPD_LOG_LEVEL="warning",  # no access log lines: they are not what is measured
    )
    return env


def start_server(data_dir: Path, sync: str) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "otpd", "serve", "--data-dir", str(data_dir), "--port", "0"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(sync),
        start_new_session=True,
    )
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("otpd listening on "):
            return proc, line.split()[-1]
        if not line and proc.poll() is not None:
            break
    stop_server(proc)
    raise SystemExit("otpd did not start")


def stop_server(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


def create_key(data_dir: Path, sync: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "otpd", "client", "create", "--tenant", "bench", "--name", "app",
         "--scopes", "read,write,verify", "--json", "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=_env(sync), check=True,
    )  # fmt: skip
    key: str = json.loads(result.stdout)["key"]
    return key


def timed(
    stats: Stats, send: Callable[[], httpx.Response], answer: Callable[[httpx.Response], str]
) -> httpx.Response:
    started = time.perf_counter()
    response = send()
    stats.latencies.append(time.perf_counter() - started)
    stats.answers[answer(response)] += 1
    return response


def _secret(b32: str) -> bytes:
    return base64.b32decode(b32 + "=" * (-len(b32) % 8))


def _wrong(secret: bytes) -> str:
    now = int(time.time())
    current = {totp(secret, now + d) for d in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in current)


def run_round(
    http: httpx.Client, key: str, n: int, users: list[User], stats: dict[str, Stats]
) -> None:
    for _ in range(n):
        timed(stats["healthz"], lambda: http.get("/healthz"), lambda r: str(r.status_code))
    fresh: list[User] = []
    params = {"api_key": key, "phone": "41791234567", "format": "1"}
    for _ in range(n):
        response = timed(
            stats["createuser"],
            partial(http.post, "/createuser", params=params),
            lambda r: r.json()["success"],
        )
        body = response.json()
        fresh.append(User(body["userid"], _secret(body["hash"])))
    codes = [(u.userid, totp(u.secret, int(time.time()))) for u in fresh]
    for userid, code in codes:
        query = {"api": key, "userid": str(userid), "token": code, "format": "1"}
        timed(
            stats["validate-valid"],
            partial(http.get, "/validate", params=query),
            lambda r: r.json()["validation"],
        )
    users.extend(fresh)
    wrong = [(users[i % len(users)].userid, _wrong(users[i % len(users)].secret)) for i in range(n)]
    for userid, code in wrong:
        query = {"api": key, "userid": str(userid), "token": code, "format": "1"}
        timed(
            stats["validate-wrong"],
            partial(http.get, "/validate", params=query),
            lambda r: r.json()["validation"],
        )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if index == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=200, help="requests per scenario per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sync", choices=("FULL", "NORMAL"), default="FULL")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otpd-token2-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        proc, url = start_server(data_dir, args.sync)
        try:
            key = create_key(data_dir, args.sync)
            stats = {name: Stats() for name in SCENARIOS}
            users: list[User] = []
            with httpx.Client(base_url=url, timeout=30) as http:
                http.get("/healthz")  # connect outside the measurement
                for _ in range(args.rounds):
                    run_round(http, key, args.users, users, stats)
        finally:
            stop_server(proc)
    floor = stats["healthz"].rate
    print(
        f"otpd Token2 over HTTP, one keep-alive client, {args.rounds} rounds x {args.users}"
        f" requests per scenario, SQLite synchronous={args.sync}"
    )
    rows = [
        (
            name,
            len(s.latencies),
            f"{s.rate:.0f}",
            f"{statistics.median(s.latencies) * 1000:.2f}",
            f"{s.percentile(0.95):.2f}",
            f"{s.rate / floor:.2f}" if floor else "-",
            " ".join(f"{a}:{c}" for a, c in sorted(s.answers.items())),
        )
        for name, s in stats.items()
    ]
    print_table(
        ["scenario", "requests", "req/s", "median ms", "p95 ms", "vs healthz", "answers"], rows
    )


if __name__ == "__main__":
    main()
