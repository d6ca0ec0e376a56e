"""Key rotation and rekey on a running server under continuous verification load (issue #14).

Verification load runs through the real server over HTTP while `otpd rotate-data-key` and
`otpd rekey` run beside it as separate processes: no verification may fail, every secret must
still give oathtool's code afterwards, and the server must restart and unseal with the new key.
"""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import threading
import time
from contextlib import closing
from pathlib import Path

from tests.support.clients import Sb
from tests.support.deployment import prepare
from tests.support.fakes import ref_totp
from tests.support.server import run_cli
from tests.support.token2 import oathtool

ROLE = "noreveal"  # read, write, verify and code in tenant acme, the only tenant here


class Load:
    """Threads verifying TOTP codes (period 1 s, so each credential verifies every second)."""

    def __init__(self, url: str, key: str, secrets: dict[str, bytes]) -> None:
        self.url, self.key, self.secrets = url, key, secrets
        self.ok = 0
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        names = sorted(secrets)
        self.threads = [
            threading.Thread(target=self._run, args=(names[i::2],), daemon=True) for i in (0, 1)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _run(self, names: list[str]) -> None:
        sb = Sb.login(self.url, ROLE, self.key)
        last = dict.fromkeys(names, 0)
        try:
            while not self.stop.is_set():
                now = int(time.time())
                ready = [n for n in names if last[n] < now]
                if not ready:
                    time.sleep(0.05)
                    continue
                for name in ready:
                    response = sb.verify(name, ref_totp(self.secrets[name], now, period=1))
                    last[name] = now
                    with self.lock:
                        if response.status_code == 200 and response.json() == {"valid": True}:
                            self.ok += 1
                        else:
                            self.failures.append(f"{name}: {response.status_code} {response.text}")
        finally:
            sb.close()


def _status(data_dir: Path) -> dict[str, object]:
    result = run_cli("status", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    status: dict[str, object] = json.loads(result.stdout)
    return status


def _wait_reencrypted(data_dir: Path, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(data_dir)
        if status["reencryption"] == {"pending": 0, "sealed_rows": 13}:  # type: ignore[comparison-overlap]
            return status
        time.sleep(0.5)
    raise AssertionError(f"re-encryption did not finish: {status}")


def _headers(db: Path) -> set[bytes]:
    with closing(sqlite3.connect(db)) as conn:
        return {bytes(row[0])[:5] for row in conn.execute("SELECT secret FROM credential")}


def _check_oathtool(url: str, key: str, secrets: dict[str, bytes]) -> None:
    time.sleep(2.1)  # past the steps the load used: a code is accepted once
    sb = Sb.login(url, ROLE, key)
    try:
        for name, secret in secrets.items():
            b32 = base64.b32encode(secret).decode()
            code = oathtool(b32, "--time-step-size=1s")
            response = sb.verify(name, code)
            assert response.json() == {"valid": True}, (name, response.text)
    finally:
        sb.close()


def test_rotation_and_rekey_under_load(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    deployment = prepare(data_dir, roles=(ROLE,))
    key = deployment.keys[ROLE]
    secrets = {f"user{n}": os.urandom(20) for n in range(12)}
    server = deployment.start("keys-live").server
    try:
        for name, secret in secrets.items():
            assert deployment.sb(ROLE).create(name, secret, period="1s").status_code == 201
        db = data_dir / "otpd.sqlite3"
        assert _headers(db) == {b"\x02\x00\x00\x00\x01"}
        seal_key = (data_dir / "seal.key").read_text()
        with Load(server.url, key, secrets) as load:
            time.sleep(1.5)
            rotated = run_cli("rotate-data-key", "--data-dir", str(data_dir))
            assert rotated.returncode == 0, rotated.stderr
            assert json.loads(rotated.stdout) == {"active": {"acme": 2}}
            extra = os.urandom(20)  # a write right after the rotation uses version 2
            assert deployment.sb(ROLE).create("late", extra, period="1s").status_code == 201
            secrets_after = {**secrets, "late": extra}
            status = _wait_reencrypted(data_dir)
            assert status["tenant_keys"] == {"acme": {"active": 2, "versions": [1, 2]}}
            rekeyed = run_cli("rekey", "--data-dir", str(data_dir))
            assert rekeyed.returncode == 0, rekeyed.stderr
            time.sleep(2)
        assert load.failures == []
        assert load.ok >= 30, load.ok
        assert _headers(db) == {b"\x02\x00\x00\x00\x02"}  # every row records version 2
        assert (data_dir / "seal.key").read_text() != seal_key
        _check_oathtool(server.url, key, secrets_after)
    finally:
        deployment.close()
    with deployment.start("keys-live-restart"):  # unseals with the new key file
        again = deployment.server
        _check_oathtool(again.url, key, secrets_after)
        log = again.log() + server.log()
    new_key_b64 = (data_dir / "seal.key").read_text().splitlines()[1]
    for output in (log, rotated.stdout, rotated.stderr, rekeyed.stdout, rekeyed.stderr):
        assert new_key_b64 not in output and seal_key.splitlines()[1] not in output
