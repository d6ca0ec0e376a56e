"""What hostile requests cost the server, as ratios to a plain request (docs/security.md).

Starts `otpd serve` (one worker) on a fresh data directory and measures, in the same run:

- baseline: a plain failed `POST /v1/login` (JSON), median wall time over --plain requests;
- the YAML key bomb: an alias of nested aliased lists (9 wide, --levels deep) used as a
  mapping key, sent to `POST /v1/login` without any key: wall time (ratio to the baseline)
  and the worker's peak RSS growth (VmHWM from /proc/PID/status);
- a --header-mb MB header line: wall time until the answer and peak RSS growth.

`--src DIR` runs the server from another checkout's src/ (PYTHONPATH), to compare with the
code before a change. Keep --levels at 7 or below there: 9 was 27 s of CPU and 2 GB of RAM.

    .venv/bin/python -m bench.hostile_requests
    .venv/bin/python -m bench.hostile_requests --src ../main/src --levels 7
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from bench.common import stop_group

REPO = Path(__file__).resolve().parents[1]


def key_bomb(levels: int, width: int = 9) -> str:
    text = "a: &a [" + ", ".join(["x"] * width) + "]\n"
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        text += f"{name}: &{name} [" + ", ".join([f"*{previous}"] * width) + "]\n"
    last = chr(ord("a") + levels - 1)
    # In a list: PyYAML fills the aliased lists before it builds this mapping's keys.
    return text + f"z:\n- ? *{last}\n  : x\n"


@contextlib.contextmanager
def serve(src: Path | None) -> Iterator[tuple[str, int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
    with tempfile.TemporaryDirectory(prefix="otpd-hostile-") as tmp:
        command = [sys.executable, "-m", "otpd", "serve", "--data-dir", f"{tmp}/d", "--port", "0"]
        proc = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("otpd listening on "):
                raise RuntimeError("otpd serve did not start")
            yield line.split()[-1], proc.pid
        finally:
            stop_group(proc)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def plain_seconds(http: httpx.Client, count: int) -> float:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        http.post("/v1/login", json={"username": "u", "password": "p"})
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bomb(http: httpx.Client, levels: int) -> tuple[float, str]:
    """Over the baseline's keep-alive connection, so only the request itself is timed."""
    text = key_bomb(levels)
    headers = {"Content-Type": "application/yaml"}
    started = time.perf_counter()
    try:
        status = str(http.post("/v1/login", content=text, headers=headers).status_code)
    except httpx.TimeoutException:
        status = "timeout"
    return time.perf_counter() - started, f"{status} ({len(text)} bytes)"


def big_header(url: str, megabytes: int) -> tuple[float, str]:
    parts = urlsplit(url)
    assert parts.hostname is not None
    assert parts.port is not None
    answer: list[bytes] = []
    started = time.perf_counter()
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as sock:

        def read() -> None:
            with contextlib.suppress(OSError):
                answer.append(sock.recv(200))

        reader = threading.Thread(target=read)
        reader.start()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(OSError):
            for _ in range(megabytes * 16):
                sock.sendall(b"a" * 65536)
            sock.sendall(b"\r\n\r\n")
        reader.join()
    status = answer[0][9:12].decode() if answer and answer[0] else "closed"
    return time.perf_counter() - started, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, help="run the server from this src/ directory")
    parser.add_argument("--levels", type=int, default=9, help="bomb depth (9**levels elements)")
    parser.add_argument("--header-mb", type=int, default=50)
    parser.add_argument("--plain", type=int, default=50, help="baseline requests")
    parser.add_argument("--timeout", type=float, default=40.0, help="per hostile request")
    args = parser.parse_args()
    with serve(args.src) as (url, pid), httpx.Client(base_url=url, timeout=args.timeout) as http:
        base = plain_seconds(http, args.plain)
        rows = [("plain POST /v1/login", base, "401", 0.0)]
        for label, run in (
            (f"YAML key bomb, 9**{args.levels}", lambda: bomb(http, args.levels)),
            (f"{args.header_mb} MB header line", lambda: big_header(url, args.header_mb)),
        ):
            before = peak_rss_mb(pid)
            seconds, status = run()
            rows.append((label, seconds, status, peak_rss_mb(pid) - before))
    print(f"server code: {args.src or 'this checkout'}; baseline {base * 1000:.2f} ms")
    print(f"{'request':<28} {'answer':<18} {'time / plain':>13} {'peak RSS +MB':>13}")
    for label, seconds, status, grown in rows:
        print(f"{label:<28} {status:<18} {seconds / base:>12.1f}x {grown:>13.1f}")


if __name__ == "__main__":
    main()
