"""`otpd credential reset` and the guess-budget settings as subprocesses (docs/security.md);
the reset of a locked credential over HTTP is in tests/e2e/test_guess_budget.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.server import run_cli


def test_reset_works_on_a_sealed_shamir_data_dir(tmp_path: Path) -> None:
    """It touches no secret, so a Shamir node that nobody unsealed can still be reset."""
    data_dir = str(tmp_path / "d")
    init = run_cli("init", "--shares", "3", "--threshold", "2", "--data-dir", data_dir)
    assert init.returncode == 0, init.stderr
    client = run_cli("client", "create", "--tenant", "acme", "--name", "a", "--scopes", "verify",
                     "--data-dir", data_dir)  # fmt: skip
    assert client.returncode == 0, client.stderr
    result = run_cli("credential", "reset", "--tenant", "acme", "bob", "--data-dir", data_dir)
    assert (result.returncode, result.stderr.strip()) == (1, "otpd: error: no such credential")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["credential", "reset", "bob"], "--tenant"),
        (["credential", "reset", "--tenant", "acme"], "name"),
        (["credential", "reset", "--tenant", "Not A Tenant", "bob"], "tenant"),
    ],
)
def test_reset_usage_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "d").mkdir()
    result = run_cli(*args, "--data-dir", str(tmp_path / "d"))
    assert result.returncode in (1, 2)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("otpd: error:"), result.stderr
    assert message in lines[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OTPD_GUESS_LIMIT", "0"),
        ("OTPD_GUESS_PROBABILITY", "1.5"),
        ("OTPD_GUESS_PROBABILITY", "lots"),
        ("OTPD_GUESS_LOCK_TIMEOUT", "-5"),
    ],
)
def test_silly_budget_settings_stop_start_up(tmp_path: Path, name: str, value: str) -> None:
    result = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path / "d"), env={name: value})
    assert result.returncode == 1
    assert name in result.stderr or name.removeprefix("OTPD_").lower() in result.stderr
    assert "Traceback" not in result.stderr
