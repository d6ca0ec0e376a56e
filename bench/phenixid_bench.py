"""PhenixID otp_token_auth over real HTTP, as ratios against GET /healthz in the same run.

`otpd serve` (one worker, the real CLI, default settings and log level but
OTPD_THROTTLE_FREE_FAILURES=100: bench.http_bench.otpd_serve) runs on a bulk-populated data
directory (bench.common.populate: --credentials credentials of tenant `bench`, default caller
authentication `basic` with an API client of scope verify, or `--auth none`). wrk (one
thread, bench.loadgen.wrk; the server gets the other core) drives, for --seconds each:

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
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    PERIOD,
    TENANT,
    add_client,
    median,
    populate,
    print_table,
    secret_for,
    wrong_code,
)
from bench.http_bench import otpd_cli, otpd_serve
from bench.loadgen import Measurement, wrk
from otpd.core.model import Scope
from otpd.core.otp import totp

PATH = "/api/authentication/otp_token_auth"
CLIENT = "bench-client"


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


def wrk_run(url: str, args: argparse.Namespace, script: Path | None = None) -> Measurement:
    return wrk(url, args.connections, args.seconds, script)


# --- codes -----------------------------------------------------------------------------------
def current_codes(first: int, count: int) -> list[str]:
    now = int(time.time())
    return [totp(secret_for(i), now, PERIOD, 6) for i in range(first, first + count)]


def wrong_codes(first: int, count: int) -> list[str]:
    """A code per credential that matches no step of its window (skew 1)."""
    now = int(time.time())
    return [wrong_code(secret_for(i), now) for i in range(first, first + count)]


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
) -> list[Measurement]:
    """healthz, wrong-code, valid-code."""
    runs = [wrk_run(url + "/healthz", args)]
    script = work / "wrong.lua"
    script.write_text(
        _lua(plan.wrong_first, wrong_codes(plan.wrong_first, plan.wrong_count), headers)
    )
    runs.append(wrk_run(url, args, script))
    first, count = plan.take_valid(args.rounds)
    script = work / "valid.lua"
    script.write_text(_lua(first, current_codes(first, count), headers))
    runs.append(wrk_run(url, args, script))
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
        otpd_cli(data_dir, "tenant", "update", TENANT, "--phenixid-auth", "none")
    wrong_count = args.credentials // 3
    plan = Plan(1, wrong_count, wrong_count + 1, args.credentials)
    print(
        f"{args.credentials} credentials populated in {seconds:.1f} s; auth {args.auth}, "
        f"synchronous={args.sync}, wrk -t1 -c{args.connections}, {args.seconds} s per run"
    )
    rounds: list[list[Measurement]] = []
    with otpd_serve(data_dir, args.sync, log=work / "server.log") as url:
        wrk_run(url + "/healthz", args)  # warm-up
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
