"""What a packager relies on: the LICENSE, the Dockerfile's shape and the systemd unit.

No Docker engine runs on the CI machines, so the Dockerfile is checked by parsing it (its
install step is the same `pip install .` that CI's own venv makes); the unit file goes through
`systemd-analyze verify` (scripts/test installs systemd where it is missing).
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _instructions(path: Path) -> list[tuple[str, str]]:
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in logical]


def test_license_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(project["urls"])


def test_dockerfile_runs_as_a_non_root_user_on_a_data_volume() -> None:
    steps = _instructions(ROOT / "Dockerfile")
    keywords = [keyword for keyword, _ in steps]
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-slim")
    users = [args for keyword, args in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    # The user is switched before the entry point, and never switched back.
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    env = " ".join(args for keyword, args in steps if keyword == "ENV")
    assert "OTPD_DATA_DIR=/var/lib/otpd" in env
    assert any(k == "VOLUME" and "/var/lib/otpd" in a for k, a in steps)
    health = [args for keyword, args in steps if keyword == "HEALTHCHECK"]
    assert len(health) == 1 and "http://127.0.0.1:8080/" in health[0]
    assert any(k == "RUN" and "pip install" in a and " ." in a for k, a in steps)
    assert ("ENTRYPOINT", '["otpd"]') in steps
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and "otpd-data" in ignored  # never bake data or keys in


def test_systemd_unit_verifies(tmp_path: Path) -> None:
    unit = (ROOT / "deploy" / "otpd.service").read_text()
    for option in ("StateDirectory=otpd", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert option in unit
    # systemd-analyze checks that ExecStart exists: point it at this checkout's otpd.
    otpd = Path(sys.executable).with_name("otpd")
    local = tmp_path / "otpd.service"
    local.write_text(unit.replace("/opt/otpd/bin/otpd", str(otpd)))
    result = subprocess.run(
        ["systemd-analyze", "verify", str(local)], capture_output=True, text=True, timeout=60
    )
    complaints = [line for line in result.stderr.splitlines() if "otpd.service" in line]
    assert complaints == [], complaints
