"""`pin_workers` (docs/performance.md#one-cpu-per-worker): each server process, with every
thread it starts, runs on one CPU of its own; without it they may run on any."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from otpd.core.errors import ConfigError
from otpd.settings import Settings
from otpd.web.server import check_pinning
from tests.support.server import Server


def _allowed(pid: int, thread: int | None = None) -> set[int]:
    """The CPUs a process (or one of its threads) may run on: Cpus_allowed_list of proc(5)."""
    base = f"/proc/{pid}" + (f"/task/{thread}" if thread is not None else "")
    text = Path(base, "status").read_text()
    listed = re.search(r"^Cpus_allowed_list:\s*(\S+)$", text, re.MULTILINE)
    assert listed is not None
    cpus: set[int] = set()
    for part in listed.group(1).split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def _workers(group: int) -> list[int]:
    """The worker processes of a server: the other members of its process group."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != group:
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == group:
                found.append(int(entry))
    return sorted(found)


@pytest.mark.parametrize("pinned", [True, False])
def test_each_worker_and_its_threads_run_on_one_cpu_of_their_own(
    tmp_path: Path, pinned: bool
) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    env = {"OTPD_PIN_WORKERS": "true" if pinned else "false"}
    server = Server(tmp_path / "data", "--workers", "2", env=env).start()
    try:
        with server.client() as http:  # worker threads exist once requests were served
            for _ in range(10):
                assert http.get("/healthz").status_code == 200
        assert server.proc is not None
        workers = _workers(server.proc.pid)
        assert len(workers) == 2
        seen, threads_seen = [], 0
        for pid in workers:
            threads = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
            threads_seen += len(threads)
            per_thread = {frozenset(_allowed(pid, t)) for t in threads}
            assert per_thread == {frozenset(_allowed(pid))}  # the threads follow the process
            seen.append(_allowed(pid))
        assert threads_seen > len(workers)  # a worker that served started threads
        if pinned:
            assert all(len(s) == 1 for s in seen)
            assert seen[0] != seen[1] or len(cpus) == 1
            assert set().union(*seen) <= set(cpus)
        else:
            assert all(s == set(cpus) for s in seen)
    finally:
        server.stop()


def test_pinning_is_refused_where_the_os_has_no_cpu_affinity(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """macOS and Windows have no sched_setaffinity: a clear start-up error, not a worker crash."""
    monkeypatch.delattr(os, "sched_setaffinity")
    with pytest.raises(ConfigError, match="pin_workers needs CPU affinity"):
        check_pinning(Settings(data_dir=tmp_path, pin_workers=True))
    check_pinning(Settings(data_dir=tmp_path))  # off: nothing to check
