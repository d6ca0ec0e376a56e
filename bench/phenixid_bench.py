"""PhenixID otp_token_auth over real HTTP, as ratios against GET /healthz in the same run.

`otpd serve` (one worker, the real CLI, default settings but OTPD_THROTTLE_FREE_FAILURES=100)
runs on a bulk-populated data directory (bench.common.populate: --credentials credentials of
tenant `bench`, default caller authentication `basic` with an API client of scope verify, or
`--auth none`). wrk (one thread; the server gets the other core) drives, for --seconds each:

  healthz      GET /healthz: the HTTP + middleware baseline
  wrong-code   PUT /api/authentication/otp_token_auth, Basic auth, a wrong code: tenant
               lookup, client key hash lookup, credential lookup, unseal, 3 HMACs, a failure
               write (403)
  valid-code   the same with the current code: ... and advance() commits the step (200)

Wrong codes go round-robin over the first third of the credentials (no credential comes near
the 100 free failures); valid codes go to the other two thirds, split evenly between rounds,
each credential once (a credential accepts one code per step; codes are computed just before
the run and stay valid 30-60 s): a run that runs out shows up as non-2xx answers (replays).
Each round measures healthz, wrong-code, valid-code; every ratio (req/s divided by the round's
healthz req/s) is taken within its round, and the median over rounds is printed.

Usage: .venv/bin/python -m bench.phenixid_bench [--credentials 60000] [--seconds 4] [--rounds 2]
       [--connections 16] [--auth basic|none] [--sync FULL|NORMAL]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.common import PERIOD, TENANT, add_client, median, populate, print_table, secret_for
from otpd.core.model import Scope
from otpd.core.otp import totp

REPO = Path(__file__).resolve().parent.parent
PATH = "/api/authentication/otp_token_auth"
CLIENT = "bench-client"
FREE_FAILURES = 100


@dataclass(frozen=True)
class Run:
    scenario: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


# --- the server ----------------------------------------------------------------------------
@contextlib.contextmanager
def otpd_serve(data_dir: Path, sync: str, log: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    env.update(OTPD_THROTTLE_FREE_FAILURES=str(FREE_FAILURES), OTPD_SQLITE_SYNCHRONOUS=sync)
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "otpd", "serve", "--data-dir", str(data_dir), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            cwd=REPO,
            text=True,
            start_new_session=True,
        )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("otpd listening on "):
            raise RuntimeError(f"otpd serve did not start; see {log}")
        yield line.split()[-1]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)


# --- load ------------------------------------------------------------------------------------
_LUA = """
local counter = 0
local first, count = FIRST, COUNT
local codes = {CODES}
local headers = {HEADERS}
function request()
  local i = first + counter % count
  counter = counter + 1
  local body = '{"username":"' .. string.format("c%07d", i) .. '","otp":"'
    .. codes[i - first + 1] .. '"}'
  return wrk.format("PUT", "PATH", headers, body)
end
"""


def _lua(first: int, codes: list[str], headers: dict[str, str]) -> str:
    table = ",".join(f'"{c}"' for c in codes)
    header_table = ",".join(f'["{k}"]="{v}"' for k, v in headers.items())
    return (
        _LUA.replace("FIRST", str(first))
        .replace("COUNT", str(len(codes)))
        .replace("{CODES}", "{" + table + "}")
        .replace("{HEADERS}", "{" + header_table + "}")
        .replace("PATH", PATH)
    )


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"wrk latency {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def wrk(scenario: str, url: str, args: argparse.Namespace, script: Path | None) -> Run:
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
    command += ["--timeout=10s", *(["-s", str(script)] if script else []), url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(
        scenario,
        int(_find(r"(\d+) requests in", out)),
        float(args.seconds),
        _ms(_find(r"^\s*50%\s+(\S+)", out)),  # the distribution's line, not a "66.50%" column
        _ms(_find(r"^\s*99%\s+(\S+)", out)),
        int(bad.group(1)) if bad else 0,
    )


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk output without {pattern!r}:\n{text}")
    return match.group(1)


# --- codes -----------------------------------------------------------------------------------
def current_codes(first: int, count: int) -> list[str]:
    now = int(time.time())
    return [totp(secret_for(i), now, PERIOD, 6) for i in range(first, first + count)]


def wrong_codes(first: int, count: int) -> list[str]:
    """A code per credential that matches no step of its window (skew 1)."""
    now = int(time.time())
    codes = []
    for i in range(first, first + count):
        window = {totp(secret_for(i), now + d * PERIOD, PERIOD, 6) for d in (-1, 0, 1, 2)}
        codes.append(next(c for c in ("000000", "111111", "222222", "333333") if c not in window))
    return codes


@dataclass
class Plan:
    """Which credentials each scenario may use; valid codes consume them."""

    wrong_first: int
    wrong_count: int
    next_valid: int
    last: int
    rounds_done: int = 0

    def take_valid(self, rounds: int) -> tuple[int, int]:
        """This round's share of the unused credentials (`rounds`: all of them)."""
        first = self.next_valid
        count = (self.last - first + 1) // max(1, rounds - self.rounds_done)
        self.next_valid += count
        self.rounds_done += 1
        return first, count


def one_round(
    url: str, args: argparse.Namespace, plan: Plan, work: Path, headers: dict[str, str]
) -> list[Run]:
    runs = [wrk("healthz", url + "/healthz", args, None)]
    script = work / "wrong.lua"
    script.write_text(
        _lua(plan.wrong_first, wrong_codes(plan.wrong_first, plan.wrong_count), headers)
    )
    runs.append(wrk("wrong-code", url, args, script))
    first, count = plan.take_valid(args.rounds)
    script = work / "valid.lua"
    script.write_text(_lua(first, current_codes(first, count), headers))
    runs.append(wrk("valid-code", url, args, script))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--credentials", type=int, default=60000)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--auth", choices=("basic", "none"), default="basic")
    parser.add_argument("--sync", choices=("FULL", "NORMAL"), default="FULL")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("this benchmark needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="otpd-phenixid-bench-"))
    try:
        return _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> int:
    data_dir = work / "data"
    seconds = populate(data_dir, args.credentials)
    key = add_client(data_dir, CLIENT, [Scope.VERIFY])
    headers = {"Content-Type": "application/json", "tenant": TENANT}
    if args.auth == "basic":
        headers["Authorization"] = "Basic " + base64.b64encode(f"{CLIENT}:{key}".encode()).decode()
    else:
        subprocess.run(
            [sys.executable, "-m", "otpd", "tenant", "update", TENANT, "--phenixid-auth", "none",
             "--data-dir", str(data_dir)],
            check=True, capture_output=True,
        )  # fmt: skip
    wrong_count = args.credentials // 3
    plan = Plan(1, wrong_count, wrong_count + 1, args.credentials)
    print(
        f"{args.credentials} credentials populated in {seconds:.1f} s; auth {args.auth}, "
        f"synchronous={args.sync}, wrk -t1 -c{args.connections}, {args.seconds} s per run"
    )
    rounds: list[list[Run]] = []
    with otpd_serve(data_dir, args.sync, work / "server.log") as url:
        wrk("warm-up", url + "/healthz", args, None)
        for _ in range(args.rounds):
            rounds.append(one_round(url, args, plan, work, headers))
    rows = []
    for index, scenario in enumerate(("healthz", "wrong-code", "valid-code")):
        runs = [r[index] for r in rounds]
        ratios = [r[index].rps / r[0].rps for r in rounds]
        rows.append([
            scenario,
            f"{median([r.rps for r in runs]):.0f}",
            f"{median([r.p50_ms for r in runs]):.2f}",
            f"{median([r.p99_ms for r in runs]):.2f}",
            sum(r.non_2xx for r in runs),
            f"{median(ratios):.2f}",
            " ".join(f"{x:.2f}" for x in ratios),
        ])  # fmt: skip
    print_table(["scenario", "req/s", "p50 ms", "p99 ms", "non-2xx", "ratio", "per round"], rows)
    print("ratio = req/s / healthz req/s of the same round; wrong-code answers are 403 by design")
    valid_bad = sum(r[2].non_2xx for r in rounds)
    if valid_bad:
        print(f"warning: {valid_bad} valid-code answers were not 200 (raise --credentials)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
