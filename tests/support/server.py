"""Run the real otpd: `otpd serve` as a subprocess on a free port, the CLI as subprocesses.

Every server's stderr goes to a log file under one directory per test session, and every
secret a test creates is registered, so tests/conftest.py can prove no secret reached a log.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from otpd.cli import main as otpd_main

LOG_DIR: Path | None = None  # set by tests/conftest.py for the session
SECRETS: list[bytes] = []  # raw secret bytes created by the suite


def register_secret(raw: bytes) -> None:
    SECRETS.append(bytes(raw))


def secret_forms(raw: bytes) -> list[str]:
    """The spellings a leaked secret could take in a log line."""
    b32 = base64.b32encode(raw).decode()
    return [
        b32,
        b32.rstrip("="),
        b32.lower().rstrip("="),
        raw.hex(),
        base64.b64encode(raw).decode(),
    ]


def otpd_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run_cli(
    *args: str, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "otpd", *args],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=otpd_env(env),
        timeout=timeout,
    )


def audit_trail(data_dir: Path, *filters: str, wait_for: int = 0) -> list[dict[str, Any]]:
    """`otpd audit --json FILTERS`: the trail's entries, oldest first. A running server's trail
    writer commits within a fraction of a second, so with `wait_for` this polls (10 s at most)
    until there are at least that many."""
    deadline = time.monotonic() + 10
    while True:
        result = run_cli("audit", "--json", "--data-dir", str(data_dir), *filters)
        assert result.returncode == 0, result.stderr
        entries = [json.loads(line) for line in result.stdout.splitlines()]
        if len(entries) >= wait_for or time.monotonic() > deadline:
            return entries
        time.sleep(0.2)


def operator(*args: str, input: str = "") -> str:
    """`otpd ARGS` run in-process, as an operator runs it but without an interpreter start-up
    (tests/cli runs the commands as subprocesses); its standard output. It must succeed."""
    out, err = io.StringIO(), io.StringIO()
    saved, sys.stdin = sys.stdin, io.StringIO(input)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = otpd_main(list(args))
    finally:
        sys.stdin = saved
    assert code == 0, f"otpd {args[0]} {args[1] if len(args) > 1 else ''}: {err.getvalue()}"
    return out.getvalue()


def free_port(*, udp: bool = False, host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (TCP, or UDP), on an IPv4 or IPv6 loopback address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def unseal(url: str, share: str) -> str:
    """`otpd unseal --url URL` with one share on standard input; the first line it prints (a
    ceremony in progress adds its nonce on a second)."""
    result = run_cli("unseal", "--url", url, input=share + "\n")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[0]


class Server:
    """One `otpd serve` process group; `url` once it printed its listening line."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        env: dict[str, str] | None = None,
        name: str = "server",
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.env = env
        self.name = name
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log_path = _log_path(name)

    def start(self, timeout: float = 30) -> Server:
        log = self.log_path.open("a")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "otpd",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--port",
                "0",
                *self.args,
            ],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=otpd_env(self.env),
            start_new_session=True,  # its own process group, so kill -9 takes every worker
        )
        log.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("otpd listening on "):
                self.url = line.split()[-1]
                return self
            if not line and self.proc.poll() is not None:
                break
        self.kill()
        raise RuntimeError(f"server did not start; log:\n{self.log_path.read_text()[-3000:]}")

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def health(self) -> tuple[int, object]:
        """GET /healthz on a fresh connection (either worker may answer): status and body."""
        response = httpx.get(self.url + "/healthz", timeout=10)
        return response.status_code, response.json()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """kill -9 of the whole process group (parent and workers)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, text: str, timeout: float = 10) -> str:
        """The log once it holds `text`: the access line is written after the response is
        sent, so a test can read the log before the line is there."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log()) and time.monotonic() < deadline:
            time.sleep(0.02)
        return log

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _log_path(name: str) -> Path:
    assert LOG_DIR is not None, "tests/conftest.py sets harness.LOG_DIR"
    stamp = f"{name}-{os.getpid()}-{time.monotonic_ns()}.log"
    return LOG_DIR / stamp
