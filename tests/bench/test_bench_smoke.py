"""The benchmark suite's plumbing on a tiny configuration (`python -m bench`, docs/performance.md):
the real server, `otpd import`, wrk and its Lua script, the answers counted. No speed is asserted:
only that every path ran, and that each saw the answers it is built to get."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATHS = {
    "healthz before",
    "healthz after",
    "token2 validate valid",
    "token2 validate wrong",
    "phenixid put valid",
    "phenixid put wrong",
    "strongbox verify valid",
    "strongbox verify wrong",
    "strongbox create",
    "strongbox get-qr-code",
    "token2 createuser",
    "token2 validate valid +fsync",
}

pytestmark = pytest.mark.skipif(
    shutil.which("wrk") is None, reason="needs wrk (scripts/test installs it)"
)


@pytest.mark.slow  # about 25 s: 12 wrk runs of 1 s, two otpd processes, an import
def test_suite_runs_every_path_with_the_expected_answers(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "bench", "--sizes", "40", "--seconds", "1", "--sync"]
    command += ["NORMAL", "--connections", "8", "--dir", str(tmp_path), "--json", str(report)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    figures = json.loads(report.read_text())
    rows = {row["path"]: row for row in figures["rows"]}
    assert set(rows) == PATHS
    for name, row in rows.items():
        assert row["rps"] > 0, name
        assert row["cpu_us"] > 0, name  # the workers' CPU time was read (/proc)
        # valid codes accepted, wrong ones rejected, creations 201/200: at least one each
        assert row["ok"] > 0, (name, row)
    for name in PATHS:
        if name.endswith("wrong"):
            assert rows[name]["other"] == 0, (name, rows[name])  # no wrong code accepted
    [enrolment] = figures["enrolments"]
    assert (enrolment["size"], enrolment["rows"]) == (40, 40)
    assert enrolment["rate"] > 0
    assert "issue #12 targets" in done.stdout
