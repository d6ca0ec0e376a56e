"""Two or more checkouts of otpd's source (or one pinned and not) under the same wrk load, in
one run: the A/B measurement behind each change of issue #12's lean hot path
(docs/performance.md, "Lean hot path").

    .venv/bin/python -m bench.variants before=/tmp/otpd-before after=. [--sync FULL]
        [--paths healthz,"token2 validate valid","phenixid put wrong"] [--rounds 3]
        [--seconds 2] [--users 3000]

A variant is NAME=DIR: the server and CLI run with DIR/src first on PYTHONPATH (make DIR with
`git archive COMMIT src | tar -x -C DIR`; `.` is this checkout). NAME=DIR@CPUS runs that server
under `taskset -a -c CPUS` (every thread on those CPUs). Each variant gets its own data
directory, tenant, API client and --users imported users (bench/suite.py's helpers), and its
server stays up for the whole run. Then, round after round, every path is driven on every
variant in turn (the order reversed every other round), so the variants share the moments of a
noisy machine. Per run: req/s, p50 and p99 at 64 connections, the server's CPU time per request
(all threads, user + system, /proc) and its context switches per request; then the medians
over the rounds, with the ratio to the same variant's healthz in the same round.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.suite import CLIENT, Server, cli, enrol, http_json, serve
from bench.suite_load import Line, run_wrk, worker_pids, write_requests
from bench.suite_paths import TENANT, Maker, Path_, Users, stepped_lines, verify_paths
from bench.suite_report import print_table

__all__ = ["main"]


def _thread_counters(pids: Sequence[int]) -> tuple[float, int]:
    """CPU seconds (user + system) and context switches (voluntary and not) of every thread
    of the processes: /proc/PID/task/TID/{stat,status} (proc(5))."""
    ticks = switches = 0
    for pid in pids:
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in threads:
            try:
                stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
            except OSError:
                continue  # the thread ended while we looked
            fields = stat.rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
            switches += sum(
                int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line
            )
    return ticks / os.sysconf("SC_CLK_TCK"), switches


@dataclass
class Variant:
    name: str
    source: Path
    cpus: str | None
    server: Server | None = None
    users: Users | None = None
    key: str = ""
    basic: str = ""
    bearer: str = ""


@dataclass(frozen=True)
class Run:
    variant: str
    path: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    switches: float


def _start(
    variant: Variant, args: argparse.Namespace, root: Path, stack: contextlib.ExitStack
) -> None:
    work = root / variant.name
    data_dir = work / "data"
    data_dir.mkdir(parents=True)
    os.environ["PYTHONPATH"] = str(variant.source / "src")
    cli(data_dir, args.sync, "tenant", "create", TENANT)
    made = cli(data_dir, args.sync, "client", "create", "--tenant", TENANT, "--name", CLIENT,
               "--scopes", "read,write,verify", "--json")  # fmt: skip
    variant.key = json.loads(made)["key"]
    variant.basic = base64.b64encode(f"{CLIENT}:{variant.key}".encode()).decode()
    url, group = stack.enter_context(serve(data_dir, args.sync, 1, work / "server.log"))
    variant.server = Server(url, group, work, args, args.sync)
    login = {"username": CLIENT, "password": variant.key}
    variant.bearer = str(http_json(url + "/v1/login", "POST", login)["token"])
    if variant.cpus is not None:
        for pid in worker_pids(group):
            command = ["taskset", "-a", "-p", "-c", variant.cpus, str(pid)]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    variant.users = Users()
    enrol(variant.server, data_dir, variant.users, args.users, variant.key)
    variant.server.healthz(0, "warm-up")


def _measure(variant: Variant, name: str, args: argparse.Namespace, seed: int) -> Run:
    server, users = variant.server, variant.users
    assert server is not None
    assert users is not None
    if name == "healthz":
        path, lines = Path_("healthz"), [Line(0, "GET", "/healthz")]
    else:
        every = verify_paths(variant.key, variant.bearer, variant.basic)
        found = [p for p in every if p[0].name == name]
        path, kind, valid = found[0]
        make = Maker(kind, users, variant.key, valid)
        first = int(time.time()) + 1
        pool = users.pool(args.users, seed)
        lines = list(stepped_lines(pool, first, args.seconds + 3, args.users, make))
    requests = server.work / "requests.txt"
    write_requests(requests, lines)
    if path.stepped:
        time.sleep(1 - time.time() % 1)
    pids = worker_pids(server.group)
    cpu_before, switches_before = _thread_counters(pids)
    answered = run_wrk(server.url, requests, connections=args.connections,
                       seconds=args.seconds, status=path.status, needle=path.needle,
                       headers=path.headers)  # fmt: skip
    cpu_after, switches_after = _thread_counters(pids)
    load = answered.load
    count = max(load.requests, 1)
    if answered.bad:
        print(f"note: {variant.name} {name}: {answered.bad} unexpected answers")
    return Run(variant.name, name, load.rps, load.p50_ms, load.p99_ms,
               (cpu_after - cpu_before) / count * 1e6,
               (switches_after - switches_before) / count)  # fmt: skip


def _report(runs: list[Run], variants: list[Variant], paths: list[str]) -> None:
    table = []
    for variant in variants:
        base = [r for r in runs if r.variant == variant.name and r.path == "healthz"]
        for name in paths:
            mine = [r for r in runs if r.variant == variant.name and r.path == name]
            ratios = [r.rps / b.rps for r, b in zip(mine, base, strict=False) if b.rps]
            base_cpu = statistics.median(b.cpu_us for b in base) if base else 0.0
            cpu = statistics.median(r.cpu_us for r in mine)
            table.append([
                variant.name, name,
                f"{statistics.median(r.rps for r in mine):.0f}",
                f"{statistics.median(ratios):.2f}" if ratios else "-",
                f"{statistics.median(r.p50_ms for r in mine):.1f}",
                f"{statistics.median(r.p99_ms for r in mine):.1f}",
                f"{cpu:.0f}", f"{cpu / base_cpu:.2f}" if base_cpu else "-",
                f"{statistics.median(r.switches for r in mine):.1f}",
            ])  # fmt: skip
    print("\nmedians over the rounds (vs healthz: the median of each round's ratio)")
    headers = ["variant", "path", "req/s", "vs healthz", "p50 ms", "p99 ms", "CPU us"]
    print_table([*headers, "CPU x", "switches"], table)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", nargs="+", help="NAME=DIR or NAME=DIR@CPUS")
    parser.add_argument("--sync", default="FULL")
    parser.add_argument("--paths", default="healthz,token2 validate valid,phenixid put wrong")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args(argv)
    variants = []
    for text in args.variants:
        name, _, rest = text.partition("=")
        source, _, cpus = rest.partition("@")
        variants.append(Variant(name, Path(source).resolve(), cpus or None))
    paths = [p.strip() for p in args.paths.split(",")]
    known = {"healthz", *(p[0].name for p in verify_paths("", "", ""))}
    if not set(paths) <= known:
        parser.error(f"--paths: one of {', '.join(sorted(known))}")
    runs: list[Run] = []
    saved = os.environ.get("PYTHONPATH")
    with (
        tempfile.TemporaryDirectory(prefix="otpd-variants-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        try:
            for variant in variants:
                _start(variant, args, Path(tmp), stack)
        finally:
            os.environ.pop("PYTHONPATH", None)
            if saved is not None:
                os.environ["PYTHONPATH"] = saved
        for round_ in range(args.rounds):
            for name in paths:
                for variant in variants if round_ % 2 == 0 else variants[::-1]:
                    run = _measure(variant, name, args, round_)
                    runs.append(run)
                    print(f"{run.variant:10} {run.path:24} {run.rps:6.0f}/s  p50 {run.p50_ms:5.1f}"
                          f"  p99 {run.p99_ms:6.1f}  CPU {run.cpu_us:4.0f} us"
                          f"  switches {run.switches:4.1f}", flush=True)  # fmt: skip
    _report(runs, variants, paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
