"""The load side of the benchmark suite (bench/suite.py): request files, the wrk Lua script that
cycles through them, one wrk run with its answers counted, and the RSS of the server's workers.

A request file has one request per line, `STEP<TAB>METHOD<TAB>PATH<TAB>BODY`. STEP 0 lines are
cycled in order whatever the time; lines of another STEP (a Unix second: the suite's credentials
have a 1 s period) are sent only during that second, each once, in order. When a second's lines
run out, the script starts them again (a replayed code, which otpd rejects): those requests are
counted as `wrapped`, so a valid-code run that ran out of fresh users shows it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "LUA",
    "Answered",
    "Line",
    "Measurement",
    "cpu_seconds",
    "parse_wrk",
    "rss_mb",
    "run_wrk",
    "worker_pids",
    "write_requests",
]

LUA = r"""
local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args)
  ok, bad, wrapped = 0, 0, 0
  want, needle = tonumber(args[2]), args[3]
  local headers = {}
  for i = 4, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    headers[name] = value
  end
  steps, used, first, last = {}, {}, nil, nil
  for line in io.lines(args[1]) do
    local step, method, path, body = line:match("^(%d+)\t(%u+)\t([^\t]+)\t(.*)$")
    local s = tonumber(step)
    if body == "" then body = nil end
    steps[s] = steps[s] or {}
    table.insert(steps[s], wrk.format(method, path, headers, body))
    if s > 0 and (first == nil or s < first) then first = s end
    if s > 0 and (last == nil or s > last) then last = s end
  end
end

function request()
  local s = 0
  if steps[0] == nil then
    s = math.min(math.max(os.time(), first), last)
  end
  local list = steps[s]
  local n = (used[s] or 0) + 1
  used[s] = n
  if s > 0 and n > #list then wrapped = wrapped + 1 end
  return list[(n - 1) % #list + 1]
end

function response(status, headers, body)
  if status == want and (needle == "" or (body and body:find(needle, 1, true))) then
    ok = ok + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("ANSWERS ok=%d bad=%d wrapped=%d\n",
      t:get("ok"), t:get("bad"), t:get("wrapped")))
  end
end
"""


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # socket errors and timeouts

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _find(pattern: str, text: str) -> str:
    match = re.search(pattern, text, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk output without {pattern!r}:\n{text}")
    return match.group(1)


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def parse_wrk(out: str) -> Measurement:
    """Requests, duration and the 50% and 99% lines of wrk --latency's distribution."""
    requests = int(_find(r"(\d+) requests in \S+,", out))
    elapsed = _ms(_find(r"\d+ requests in (\S+),", out)) / 1000
    p50, p99 = _ms(_find(r"^\s*50%\s+(\S+)\s*$", out)), _ms(_find(r"^\s*99%\s+(\S+)\s*$", out))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = sum(int(n) for n in socket.groups()) if socket else 0
    return Measurement(requests, elapsed, p50, p99, errors)


@dataclass(frozen=True)
class Line:
    step: int  # 0: any time (cycled); else the Unix second the request belongs to
    method: str
    path: str
    body: str = ""


@dataclass(frozen=True)
class Answered:
    """One wrk run: its figures and its answers (`ok`: the expected status and body text)."""

    load: Measurement
    ok: int
    bad: int
    wrapped: int


def write_requests(path: Path, lines: Iterable[Line]) -> int:
    """Write a request file; returns how many lines it has."""
    count = 0
    with path.open("w") as out:
        for line in lines:
            out.write(f"{line.step}\t{line.method}\t{line.path}\t{line.body}\n")
            count += 1
    return count


def run_wrk(
    url: str,
    requests: Path,
    *,
    connections: int,
    seconds: int,
    status: int = 200,
    needle: str = "",
    headers: Sequence[str] = (),
) -> Answered:
    """wrk -t1 (the server gets the other core) with LUA over `requests`; an answer is `ok`
    when its status is `status` and its body contains `needle`."""
    script = requests.with_suffix(".lua")
    script.write_text(LUA)
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout=10s"]
    command += ["-s", str(script), url, "--", str(requests), str(status), needle, *headers]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^ANSWERS ok=(\d+) bad=(\d+) wrapped=(\d+)$", out, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk output without the script's answers:\n{out}")
    ok, bad, wrapped = (int(x) for x in match.groups())
    return Answered(parse_wrk(out), ok, bad, wrapped)


def worker_pids(group: int) -> list[int]:
    """The server's workers: the processes of its process group; with more than one, the
    supervisor (the group leader) is left out, since it serves nothing."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[2]) == group:  # field 5 of proc(5): the process group id
            pids.append(int(entry))
    workers = [pid for pid in pids if pid != group]
    return sorted(workers or pids)


def rss_mb(pid: int) -> float:
    """Resident set size (VmRSS of /proc/PID/status) in MB; 0 when the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def cpu_seconds(pids: Iterable[int]) -> float:
    """The CPU time (user + system, all threads) the processes have used so far: fields 14
    and 15 of /proc/PID/stat (proc(5)), in clock ticks. A process that is gone counts 0."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (after the name's ")")
    return ticks / os.sysconf("SC_CLK_TCK")
