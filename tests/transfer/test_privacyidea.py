"""A real privacyIDEA 3.14 round trip. privacyIDEA lives in its own virtualenv (made once,
cached under ~/.cache/otpd-tests) so it never touches otpd's dependencies.

privacyIDEA enrols a token and accepts a code; its token janitor exports the token as YAML;
otpd imports it and refuses that code. otpd's PSKC export (privacyIDEA profile) goes back into
a second, fresh privacyIDEA with `pi-tokenjanitor import pskc`, which refuses the code too,
while a copy with the counter zeroed accepts it (so the carried step is what refuses it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from otpd.core.model import Outcome
from tests.support import server as harness
from tests.support.server import run_cli
from tests.support.transfer import oathtool, open_services

VERSION = "3.14"
VENV = Path.home() / ".cache" / "otpd-tests" / f"privacyidea-{VERSION}"
HELPER = Path(__file__).with_name("pi_helper.py")
SECRET = bytes.fromhex("3132333435363738393031323334353637383930")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pi_python() -> Path:
    python = VENV / "bin" / "python"
    if not (VENV / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", f"privacyIDEA=={VERSION}"],
            check=True,
            timeout=1200,
        )
        (VENV / ".installed").touch()
    return python


class PrivacyIdea:
    def __init__(self, python: Path, home: Path) -> None:
        self.bin = python.parent
        self.python = python
        home.mkdir()
        config = home / "pi.cfg"
        config.write_text(
            f"SQLALCHEMY_DATABASE_URI = 'sqlite:///{home}/pi.sqlite'\n"
            "SECRET_KEY = 'test-only'\nPI_PEPPER = 'test-only'\n"
            f"PI_ENCFILE = '{home}/enckey'\nPI_AUDIT_NO_SIGN = True\n"
            f"PI_LOGFILE = '{home}/privacyidea.log'\nPI_LOGLEVEL = 40\n"
        )
        self.env = {**os.environ, "PRIVACYIDEA_CONFIGFILE": str(config)}
        for step in ("create_enckey", "create_tables"):
            self.run("pi-manage", "setup", step)

    def run(self, *args: str) -> str:
        program = [str(self.bin / args[0]), *args[1:]]
        result = subprocess.run(program, env=self.env, capture_output=True, text=True, cwd="/")
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout + result.stderr

    def helper(self, *args: str) -> dict[str, object]:
        out = self.run_python(str(HELPER), *args)
        value: dict[str, object] = json.loads(out.strip().splitlines()[-1])
        return value

    def run_python(self, *args: str) -> str:
        result = subprocess.run(
            [str(self.python), *args], env=self.env, capture_output=True, text=True, cwd="/"
        )
        assert result.returncode == 0, result.stderr
        return result.stdout


def test_privacyidea_round_trip_keeps_the_used_code_refused(
    pi_python: Path, tmp_path: Path, data_dir: Path
) -> None:
    harness.register_secret(SECRET)
    old = PrivacyIdea(pi_python, tmp_path / "pi-old")
    old.helper("enrol", "TOTP0001", SECRET.hex())
    now = int(time.time())
    if now % 30 > 20:  # keep the whole exchange inside privacyIDEA's window
        time.sleep(31 - now % 30)
        now = int(time.time())
    code = oathtool(SECRET, now)
    accepted = old.helper("auth", "TOTP0001", code)
    assert accepted["ok"] is True
    step = int(str(accepted["counter"]))
    assert step == now // 30
    export = tmp_path / "tokens.yaml"
    old.run("pi-tokenjanitor", "find", "--tokenattribute", "serial=TOTP0001", "export",
            "--format", "yaml", "--file", str(export))  # fmt: skip

    pi_pskc = tmp_path / "pi.pskc"
    printed = old.run("pi-tokenjanitor", "find", "--tokenattribute", "serial=TOTP0001", "export",
                      "--format", "pskc", "--file", str(pi_pskc))  # fmt: skip
    pi_key = tmp_path / "pi.key"
    pi_key.write_text(re.findall(r"^\s*([0-9a-f]{32})\s*$", printed, re.MULTILINE)[-1])

    assert run_cli("tenant", "create", "acme", "--data-dir", str(data_dir)).returncode == 0
    assert run_cli("tenant", "create", "viapskc", "--data-dir", str(data_dir)).returncode == 0
    base = ["--tenant", "acme", "--data-dir", str(data_dir)]
    # privacyIDEA's own (lower-cased) PSKC export carries the step as well
    via_pskc = run_cli("import", "--tenant", "viapskc", "--data-dir", str(data_dir), "--format",
                       "pskc", "--key-file", str(pi_key), "--replay-floor", "carried",
                       "--name-template", "{serial}", "--json", str(pi_pskc))  # fmt: skip
    assert json.loads(via_pskc.stdout)["imported"] == 1, via_pskc.stdout + via_pskc.stderr
    imported = run_cli("import", *base, "--format", "privacyidea", "--name-template", "{serial}",
                       "--replay-floor", "carried", "--json", str(export))  # fmt: skip
    assert json.loads(imported.stdout)["imported"] == 1, imported.stdout + imported.stderr
    d = open_services(data_dir, now)
    try:
        for tenant in ("acme", "viapskc"):
            record = d.store.get_credential(tenant, "TOTP0001")
            assert record is not None and record.last_step == step
            result = d.services.credentials.verify(d.principal(tenant), "TOTP0001", code)
            assert result.outcome is Outcome.REPLAYED
        assert (
            d.services.credentials.verify(d.principal(), "TOTP0001", code).outcome
            is Outcome.REPLAYED
        )
        d.clock.set(now + 30)
        later = oathtool(SECRET, now + 30)
        assert (
            d.services.credentials.verify(d.principal(), "TOTP0001", later).outcome
            is Outcome.ACCEPTED
        )
    finally:
        d.store.close()
    # the otpd-accepted step (now + 30) is carried back in <Counter>
    psk = tmp_path / "psk"
    psk.write_text(os.urandom(16).hex())
    document = tmp_path / "back.pskc"
    exported = run_cli("export", *base, "--format", "pskc", "--pskc-profile", "privacyidea",
                       "--key-file", str(psk), str(document))  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    assert f"<pskc:PlainValue>{step + 1}</pskc:PlainValue>" in document.read_text()
    control = tmp_path / "control.pskc"
    control.write_text(
        document.read_text()
        .replace("TOTP0001", "CTRL0001")
        .replace(f"<pskc:PlainValue>{step + 1}<", "<pskc:PlainValue>0<")
    )
    new = PrivacyIdea(pi_python, tmp_path / "pi-new")
    for path in (document, control):
        out = new.run("pi-tokenjanitor", "import", "pskc", str(path), "--preshared_key",
                      psk.read_text())  # fmt: skip
        assert "Successfully imported 1 tokens" in out
    assert new.helper("auth", "TOTP0001", code)["ok"] is False
    assert new.helper("auth", "TOTP0001", later)["ok"] is False
    assert new.helper("auth", "CTRL0001", code)["ok"] is True  # only the counter refuses it
