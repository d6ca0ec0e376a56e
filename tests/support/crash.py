"""`otpd` in a process that kills itself with SIGKILL right after a named step of `otpd rekey`
(otpd.crypto.rekey.step_hook), as a power cut would: no clean-up, no flush, no `finally`.

    python -m tests.support.crash STEP otpd-arguments...
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.server import otpd_env

ROOT = Path(__file__).resolve().parents[2]


def run_crashing(step: str, *args: str, input: str = "") -> subprocess.CompletedProcess[str]:
    """`otpd ARGS` as run_cli runs it, killed right after `step`."""
    return subprocess.run(
        [sys.executable, "-m", "tests.support.crash", step, *args],
        input=input,
        capture_output=True,
        text=True,
        env=otpd_env(),
        cwd=ROOT,
        timeout=60,
    )


def main() -> int:
    from otpd.cli import main as otpd_main
    from otpd.crypto import rekey

    step, *args = sys.argv[1:]

    def crash(name: str) -> None:
        if name == step:
            os.kill(os.getpid(), signal.SIGKILL)

    rekey.step_hook = crash
    return otpd_main(args)


if __name__ == "__main__":
    sys.exit(main())
