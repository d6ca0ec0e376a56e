"""kill -9 at each step of `otpd rekey` and during re-encryption (issue #14): afterwards the
deployment restarts, unseals with the old or the new key material, and serves every secret.

The rekey commands run in a process that kills itself with SIGKILL right after the named step
(tests/support/crash.py sets otpd.crypto.rekey.step_hook).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.crash import run_crashing
from tests.support.deployment import Deployment, prepare
from tests.support.server import run_cli
from tests.support.token2 import oathtool

ROLE = "noreveal"  # read, write, verify and code in tenant acme


def _verify_all(deployment: Deployment, secrets: dict[str, bytes]) -> None:
    sb = deployment.sb(ROLE)
    for name, secret in secrets.items():
        code = oathtool(base64.b32encode(secret).decode(), "--time-step-size=1s")
        assert sb.verify(name, code).json() == {"valid": True}, name
    time.sleep(1.1)  # the next check uses a later step


def _create(deployment: Deployment, count: int) -> dict[str, bytes]:
    secrets = {f"u{n}": os.urandom(20) for n in range(count)}
    for name, secret in secrets.items():
        assert deployment.sb(ROLE).create(name, secret, period="1s").status_code == 201
    return secrets


@pytest.mark.parametrize("step", ["new-key-written", "committed", "renamed"])
def test_embedded_rekey_killed_at_each_step(tmp_path: Path, step: str) -> None:
    data_dir = tmp_path / "data"
    deployment = prepare(data_dir, roles=(ROLE,))
    with deployment.start(f"rekey-{step}"):
        secrets = _create(deployment, 3)
        crashed = run_crashing(step, "rekey", "--data-dir", str(data_dir))
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr
        _verify_all(deployment, secrets)  # the running server never noticed
    with deployment.start(f"rekey-{step}-restart"):
        _verify_all(deployment, secrets)
    assert not (data_dir / "seal.key.new").exists() or step == "new-key-written"
    done = run_cli("rekey", "--data-dir", str(data_dir))  # a later rekey completes
    assert done.returncode == 0, done.stderr
    assert not (data_dir / "seal.key.new").exists()
    with deployment.start(f"rekey-{step}-after"):
        _verify_all(deployment, secrets)


def _unseal(url: str, shares: list[str]) -> None:
    for share in shares:
        result = run_cli("unseal", "--url", url, input=share + "\n")
        assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("step", ["pending-written", "committed"])
def test_shamir_rekey_killed_at_each_step(tmp_path: Path, step: str) -> None:
    data_dir = tmp_path / "data"
    deployment = prepare(data_dir, roles=(ROLE,), shares=(3, 2))
    old = deployment.shares
    server = deployment.start(f"srekey-{step}").server
    try:
        _unseal(server.url, old[:2])
        secrets = _create(deployment, 3)
        args = ("rekey", "--shares", "4", "--threshold", "3", "--json", "--data-dir", str(data_dir))
        started = run_crashing(step, *args, input="\n".join(old[1:]) + "\n")
        if step == "pending-written":
            assert started.returncode == -signal.SIGKILL
            expect = old  # nothing committed: the old shares unseal
        else:
            new = json.loads(started.stdout)["shares"]
            verify = ("rekey", "--verify", "--data-dir", str(data_dir))
            crashed = run_crashing(step, *verify, input="\n".join(new[:3]) + "\n")
            assert crashed.returncode == -signal.SIGKILL
            expect = new  # committed: the new shares unseal, the old ones no longer
        _verify_all(deployment, secrets)  # the running server keeps serving
    finally:
        server.kill()
    with deployment.start(f"srekey-{step}-restart"):
        again = deployment.server
        if step == "committed":
            refused = run_cli("unseal", "--url", again.url, input=old[0] + "\n")
            assert refused.returncode == 1
        _unseal(again.url, expect[: 3 if step == "committed" else 2])
        _verify_all(deployment, secrets)
        logs = again.log() + server.log()
    for share in (*old, *expect):  # no share in any log line of the rekey or the unseal
        assert share.split(":")[1] not in logs


def test_kill_9_during_reencryption(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    deployment = prepare(data_dir, roles=(ROLE,))
    server = deployment.start("reencrypt-kill").server
    secrets = _create(deployment, 40)
    rotated = run_cli("rotate-data-key", "--data-dir", str(data_dir))
    assert rotated.returncode == 0, rotated.stderr
    time.sleep(2.2)  # the task wakes every 2 s: kill it in or near its pass
    server.kill()
    with deployment.start("reencrypt-kill-restart"):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = json.loads(run_cli("status", "--data-dir", str(data_dir)).stdout)
            if status["reencryption"]["pending"] == 0:
                break
            time.sleep(0.5)
        assert status["reencryption"] == {"pending": 0, "sealed_rows": 40}
        _verify_all(deployment, secrets)
