"""Load generators for server_choice.py, each in its own process: wrk (preferred) or, when wrk is
missing, the small keep-alive HTTP/1.1 client in this module (`python -m bench.loadgen`).
phenixid_bench.py drives `wrk` with a Lua script of its own.

A Load is a fixed path, or a path per credential: prefix + NAME_FORMAT % i + suffix with i
going round-robin from `offset` over `names` credentials, so failures spread evenly.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.common import NAME_FORMAT

__all__ = ["Load", "Measurement", "run_python", "run_wrk", "wrk"]


@dataclass(frozen=True)
class Load:
    method: str
    prefix: str
    suffix: str = ""
    names: int = 0
    offset: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""

    def path(self, k: int) -> str:
        if not self.names:
            return self.prefix
        return self.prefix + NAME_FORMAT % ((self.offset + k) % self.names + 1) + self.suffix

    def request(self, k: int, host: str) -> bytes:
        lines = [f"{self.method} {self.path(k)} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body.encode())}")
        return ("\r\n".join(lines) + "\r\n\r\n" + self.body).encode()


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers, socket errors and timeouts
    non_2xx: int = 0  # the answers alone

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- wrk ---------------------------------------------------------------------------------
_LUA = """
local counter = 0
function init(args)
  method, prefix, suffix = args[1], args[2], args[3]
  names, offset, body = tonumber(args[4]), tonumber(args[5]), args[6]
  if body == "" then body = nil end
  headers = {}
  for i = 7, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
end
function request()
  local path = prefix
  if names > 0 then
    path = prefix .. string.format("NAME_FORMAT", (offset + counter) % names + 1) .. suffix
  end
  counter = counter + 1
  return wrk.format(method, path, headers, body)
end
""".replace("NAME_FORMAT", NAME_FORMAT)
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _find(pattern: str, text: str) -> re.Match[str]:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk output without {pattern!r}:\n{text}")
    return match


def _ms(text: str) -> float:
    number, unit = _find(r"^([\d.]+)(us|ms|s|m)$", text).groups()
    return float(number) * _UNITS_MS[unit]


def _parse_wrk(out: str) -> Measurement:
    requests, elapsed = _find(r"(\d+) requests in (\S+),", out).groups()
    p50 = _find(r"^\s*50%\s+(\S+)\s*$", out).group(1)  # the Latency Distribution lines
    p99 = _find(r"^\s*99%\s+(\S+)\s*$", out).group(1)
    non_2xx = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = non_2xx + (sum(int(n) for n in socket.groups()) if socket else 0)
    return Measurement(int(requests), _ms(elapsed) / 1000, _ms(p50), _ms(p99), errors, non_2xx)


def wrk(
    url: str, connections: int, seconds: int, script: Path | None = None, args: Sequence[str] = ()
) -> Measurement:
    """One wrk thread (the server under test gets the other core); wrk takes whole seconds.
    `script` is a Lua script (without: GET `url`), `args` what its init(args) gets."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout=10s"]
    command += [*(["-s", str(script)] if script else []), url, *(["--", *args] if args else [])]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _parse_wrk(out)


def run_wrk(url: str, load: Load, connections: int, seconds: int, script: Path) -> Measurement:
    """`load` through wrk, with this module's Lua script written to `script`."""
    script.write_text(_LUA)
    headers = [f"{name}: {value}" for name, value in load.headers.items()]
    args = [load.method, load.prefix, load.suffix, str(load.names), str(load.offset), load.body]
    return wrk(url, connections, seconds, script, [*args, *headers])


# --- the Python fallback -----------------------------------------------------------------
async def _answer(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    match = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if match is None:
        raise RuntimeError("this client needs Content-Length answers")
    await reader.readexactly(int(match.group(1)))
    return status


async def _connection(
    host: str, port: int, load: Load, turns: itertools.count[int], deadline: float
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            writer.write(load.request(next(turns), host))
            status = await _answer(reader)
            latencies.append(time.perf_counter() - start)
            errors += not 200 <= status < 400
    finally:
        writer.close()
    return latencies, errors


async def _drive(host: str, port: int, load: Load, connections: int, seconds: float) -> Measurement:
    turns = itertools.count()
    start = time.perf_counter()
    deadline = start + seconds
    tasks = [_connection(host, port, load, turns, deadline) for _ in range(connections)]
    done = await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    latencies = sorted(x for lat, _ in done for x in lat)
    errors = sum(e for _, e in done)  # non-2xx answers; socket errors raise here
    if not latencies:
        return Measurement(0, elapsed, float("nan"), float("nan"), errors, errors)
    p50 = latencies[len(latencies) // 2] * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return Measurement(len(latencies), elapsed, p50, p99, errors, errors)


def run_python(host: str, port: int, load: Load, connections: int, seconds: float) -> Measurement:
    spec = json.dumps([host, port, asdict(load), connections, seconds])
    command = [sys.executable, "-m", "bench.loadgen", spec]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return Measurement(**json.loads(out))


def main() -> int:
    host, port, load, connections, seconds = json.loads(sys.argv[1])
    coroutine = _drive(host, port, Load(**load), connections, seconds)
    try:
        import uvloop  # optional: a faster client when installed
    except ImportError:
        result = asyncio.run(coroutine)
    else:
        result = uvloop.run(coroutine)
    print(json.dumps(asdict(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
