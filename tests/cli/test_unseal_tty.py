"""`otpd unseal` at a terminal reads the share without echo (issue #13)."""

from __future__ import annotations

import os
import pty
import select
import sys
import time

from tests.support.server import otpd_env

SHARE = "3-c2hhcmUtdGhhdC1tdXN0LW5vdC1lY2hv"


def _read_until(fd: int, needle: bytes, seen: bytearray, deadline: float) -> bool:
    while needle not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return needle in seen
        if not chunk:
            break
        seen += chunk
    return needle in seen


def test_unseal_prompts_without_echo_at_a_terminal() -> None:
    argv = [sys.executable, "-m", "otpd", "unseal", "--url", "http://127.0.0.1:9"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: otpd on the pseudo-terminal
        os.execve(sys.executable, argv, otpd_env())  # noqa: S606 (argv is fixed)
    seen = bytearray()
    deadline = time.monotonic() + 60
    try:
        assert _read_until(fd, b"share: ", seen, deadline), bytes(seen)
        os.write(fd, SHARE.encode() + b"\n")
        # The share was read (the command went on to the unreachable server) and not echoed.
        assert _read_until(fd, b"cannot reach", seen, deadline), bytes(seen)
        _read_until(fd, b"\n\n", seen, time.monotonic() + 2)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 1
    assert SHARE.encode() not in seen
    assert b"Traceback" not in seen


def test_unseal_reads_a_piped_share_without_a_prompt(tmp_path: object) -> None:
    import subprocess

    result = subprocess.run(
        [sys.executable, "-m", "otpd", "unseal", "--url", "http://127.0.0.1:9"],
        input=SHARE + "\n",
        capture_output=True,
        text=True,
        env=otpd_env(),
        timeout=60,
    )
    assert result.returncode == 1 and "share:" not in result.stdout + result.stderr
    assert result.stderr.startswith("otpd: error: cannot reach")
    assert SHARE not in result.stderr
