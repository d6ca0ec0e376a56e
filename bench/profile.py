"""A py-spy profile of otpd's hot path under wrk load, with SQLite synchronous FULL and NORMAL
(docs/performance.md, "Profile"): Token2 /validate with valid codes for distinct users, or
another --path (Token2 or PhenixID, valid or wrong codes, or the healthz baseline).

For each mode it starts the real server on a fresh data directory (bench/suite.py's helpers),
imports --users users with `otpd import`, and while wrk (64 connections) sends the path's
requests it records the worker with `py-spy record --function` (`pip install -e '.[bench]'`).
It writes, per mode, into --out:
- profile-<PATH>-<MODE>.speedscope.json: the samples, for https://www.speedscope.app (flame
  graph, left-heavy and sandwich views);
- profile-<PATH>-<MODE>.txt: the top functions by self time (where the worker's time goes,
  the list to shorten) and by total time (which calls contain it), as shares of all samples.

    .venv/bin/python -m bench.profile [--users 20000] [--seconds 10] [--sync FULL,NORMAL]
        [--path "phenixid put wrong"] [--gil]
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.suite import CLIENT, Server, cli, enrol, serve
from bench.suite_load import Line, run_wrk, worker_pids, write_requests
from bench.suite_paths import TENANT, Maker, Path_, Users, stepped_lines, verify_paths

__all__ = ["main", "summarize"]


def _frame_name(frame: dict[str, Any]) -> str:
    """`function (package/module.py)`: the path cut after site-packages or src/."""
    file = str(frame.get("file", ""))
    for marker in ("site-packages/", "/src/", "/lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
            break
    return f"{frame.get('name', '?')} ({file})" if file else str(frame.get("name", "?"))


# A thread-pool worker waiting for its next job: idle, though py-spy sees it as running
# (anyio's workers wait in Queue.get; concurrent.futures' in C, under its `_worker` frame).
IDLE = ("Condition.wait (", "Queue.get (")


def _idle(innermost: str) -> bool:
    if innermost.startswith("_worker (") and innermost.endswith("concurrent/futures/thread.py)"):
        return True
    return innermost.startswith(IDLE)


def _stacks(speedscope: dict[str, Any]) -> Iterator[tuple[list[str], float]]:
    """Each sample's stack (outermost first) and weight, pool workers' idle waits left out."""
    frames = speedscope["shared"]["frames"]
    for profile in speedscope["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"], strict=True):
            names = [_frame_name(frames[i]) for i in stack]
            if names and not _idle(names[-1]):
                yield names, weight


def summarize(speedscope: dict[str, Any], top: int) -> Summary:
    """The busy thread-seconds of a py-spy speedscope file, and the `top` functions by self
    time (name, self share, total share) and by total time (name, total share); a function
    counts once per sample in its total."""
    self_time: defaultdict[str, float] = defaultdict(float)
    total: defaultdict[str, float] = defaultdict(float)
    busy = 0.0
    for names, weight in _stacks(speedscope):
        self_time[names[-1]] += weight
        for name in set(names):
            total[name] += weight
        busy += weight
    if not busy:
        return Summary(0.0, [], [])
    by_self = [(n, w / busy, total[n] / busy) for n, w in _largest(self_time)[:top]]
    own = [(n, w / busy) for n, w in _largest(total) if _own(n)]
    return Summary(busy, by_self, own[:top])


def _largest(weights: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(weights.items(), key=lambda item: -item[1])


def _own(name: str) -> bool:
    """otpd's functions below its entry points (the CLI, the server loop)."""
    return "(otpd/" in name and not any(m in name for m in ENTRY)


ENTRY = ("otpd/__main__.py", "otpd/cli.py", "otpd/web/server.py")


@dataclass(frozen=True)
class Summary:
    busy_seconds: float
    by_self: list[tuple[str, float, float]]
    by_total: list[tuple[str, float]]


def _text(
    sync: str, args: argparse.Namespace, rps: float, speedscope: dict[str, Any], name: str
) -> str:
    summary = summarize(speedscope, args.top)
    mode = "threads holding the GIL" if args.gil else "busy threads"
    lines = [
        f"{name}, {args.users:,} users, synchronous={sync},"
        f" wrk -c{args.connections}: {rps:.0f} req/s while profiled",
        f"py-spy record --function{' --gil' if args.gil else ''}: {summary.busy_seconds:.1f}"
        f" thread-seconds of {mode} (idle pool workers left out); shares of those",
        "",
        f"top {args.top} by self time    self   total  function",
    ]
    lines += [
        f"{i:>2}.{'':<20}{s:6.1%}  {t:6.1%}  {name}"
        for i, (name, s, t) in enumerate(summary.by_self, 1)
    ]
    lines += ["", f"otpd's top {args.top} by total time     total  function"]
    lines += [f"{i:>2}.{'':<28}{t:6.1%}  {name}" for i, (name, t) in enumerate(summary.by_total, 1)]
    return "\n".join(lines) + "\n"


def profile_mode(args: argparse.Namespace, sync: str, work: Path) -> str:
    data_dir = work / "data"
    data_dir.mkdir(exist_ok=True)  # the CLI creates files in a data directory, not the directory
    cli(data_dir, sync, "tenant", "create", TENANT)
    made = cli(data_dir, sync, "client", "create", "--tenant", TENANT, "--name", CLIENT,
               "--scopes", "read,write,verify", "--json")  # fmt: skip
    key = json.loads(made)["key"]
    basic = base64.b64encode(f"{CLIENT}:{key}".encode()).decode()
    with serve(data_dir, sync, 1, work / "server.log") as (url, group):
        server = Server(url, group, work, args, sync)
        users = Users()
        enrol(server, data_dir, users, args.users, key)
        server.healthz(0, "warm-up")
        path, lines = _requests(args, users, key, basic)
        requests = work / "requests.txt"
        write_requests(requests, lines)
        slug = path.name.replace(" ", "-")
        stem = f"profile-{slug}-{sync}{'-gil' if args.gil else ''}"
        out = args.out / f"{stem}.speedscope.json"
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--function"]
        command += [
            "--format",
            "speedscope",
            "--output",
            str(out),
            *(["--gil"] if args.gil else []),
        ]
        command += ["--duration", str(args.seconds), "--pid", str(worker_pids(group)[0])]
        time.sleep(1 - time.time() % 1)
        spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        answered = run_wrk(url, requests, connections=args.connections,
                           seconds=args.seconds + 1, status=path.status, needle=path.needle,
                           headers=path.headers)  # fmt: skip
        _, err = spy.communicate(timeout=60)
        if spy.returncode:
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace').strip()}")
    text = _text(sync, args, answered.load.rps, json.loads(out.read_text()), path.name)
    if answered.wrapped:
        text += f"\nnote: {answered.wrapped} requests reused a user within its second\n"
    (args.out / f"{stem}.txt").write_text(text)
    return text


# The paths that need no Strongbox login (the profile logs in nowhere), and the baseline.
PATHS = (
    "token2 validate valid",
    "token2 validate wrong",
    "phenixid put valid",
    "phenixid put wrong",
    "healthz",
)


def _requests(
    args: argparse.Namespace, users: Users, key: str, basic: str
) -> tuple[Path_, Iterable[Line]]:
    """The chosen path and its request lines: valid or wrong codes of distinct users."""
    if args.path == "healthz":
        return Path_("healthz"), [Line(0, "GET", "/healthz")]
    path, kind, valid = next(p for p in verify_paths(key, "-", basic) if p[0].name == args.path)
    first = int(time.time()) + 1
    make = Maker(kind, users, key, valid)
    steps = args.seconds + 4
    return path, stepped_lines(users.pool(args.users, 1), first, steps, args.per_step, make)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--seconds", type=int, default=10, help="seconds recorded")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--per-step", type=int, default=1500, help="distinct users per second")
    parser.add_argument("--sync", default="FULL,NORMAL")
    parser.add_argument("--path", default=PATHS[0], choices=PATHS, help="the path under load")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--gil", action="store_true", help="only threads holding the GIL (CPU)")
    parser.add_argument("--out", type=Path, default=Path("bench-profile"))
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None or not (Path(sys.executable).parent / "py-spy").exists():
        print("needs wrk (apt-get install -y wrk) and py-spy (pip install -e '.[bench]')")
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    for sync in (s.strip().upper() for s in args.sync.split(",")):
        with tempfile.TemporaryDirectory(prefix="otpd-profile-") as tmp:
            print(profile_mode(args, sync, Path(tmp)))
    print(f"speedscope files and summaries in {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
