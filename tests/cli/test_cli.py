"""The command line as README.md#command-line, run as subprocesses: flags, variables, errors, key
files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.support.server import Server, run_cli

ALL = ["read", "write", "verify", "code", "reveal"]


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--bogus"],
        ["serve", "--port", "70000"],
        ["serve", "--workers", "0"],
        ["frobnicate"],
        ["client", "create", "--tenant", "acme"],
        ["init", "--shares", "x", "--threshold", "2"],
        [],
    ],
)
def test_wrong_flags_exit_nonzero_with_one_line(args: list[str], tmp_path: Path) -> None:
    result = run_cli(*args, env={"OTPD_DATA_DIR": str(tmp_path / "d")})
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("otpd: error:")
    assert "Traceback" not in result.stderr


def test_client_create_json_and_tenant_autocreate(data_dir: Path) -> None:
    result = run_cli(
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "web",
        "--scopes",
        "read,verify",
        "--json",
        "--data-dir",
        str(data_dir),
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out) == {"tenant", "name", "scopes", "key"}
    assert out["tenant"] == "acme" and out["name"] == "web"
    assert out["scopes"] == ["read", "verify"]
    assert len(out["key"]) == 40 and out["key"].isalnum() and out["key"].isascii()
    # The key is stored only as SHA-256: not in the database file in any form.
    raw = (data_dir / "otpd.sqlite3").read_bytes()
    assert out["key"].encode() not in raw
    shown = run_cli("tenant", "show", "acme", "--data-dir", str(data_dir))
    assert shown.returncode == 0 and json.loads(shown.stdout)["tenant"] == "acme"


def test_seal_scope_only_in_system_tenant(data_dir: Path) -> None:
    bad = run_cli(
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "ops",
        "--scopes",
        "seal",
        "--data-dir",
        str(data_dir),
    )
    assert bad.returncode == 1 and "seal" in bad.stderr
    good = run_cli(
        "client",
        "create",
        "--tenant",
        "system",
        "--name",
        "ops",
        "--scopes",
        "seal",
        "--data-dir",
        str(data_dir),
    )
    assert good.returncode == 0, good.stderr


def test_bad_inputs_are_one_line_errors(data_dir: Path) -> None:
    for args in (
        ["client", "create", "--tenant", "Bad_Tenant", "--name", "x", "--scopes", "read"],
        ["client", "create", "--tenant", "acme", "--name", "x", "--scopes", "fly"],
        ["tenant", "show", "nobody"],
    ):
        result = run_cli(*args, "--data-dir", str(data_dir))
        assert result.returncode == 1, args
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    dup = [
        "client",
        "create",
        "--tenant",
        "acme",
        "--name",
        "x",
        "--scopes",
        "read",
        "--data-dir",
        str(data_dir),
    ]
    assert run_cli(*dup).returncode == 0
    again = run_cli(*dup)
    assert again.returncode == 1 and len(again.stderr.strip().splitlines()) == 1


def test_environment_variables_and_flags_win(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()  # admin commands create no data directory (issue #13)
    env = {"OTPD_DATA_DIR": str(data_dir)}
    assert run_cli("tenant", "create", "acme", env=env).returncode == 0
    assert (data_dir / "otpd.sqlite3").exists()
    # the flag wins over the variable
    assert run_cli("tenant", "create", "acme", "--data-dir", str(other), env=env).returncode == 0
    assert (other / "otpd.sqlite3").exists()
    bad = run_cli("tenant", "show", "acme", env={"OTPD_DATA_DIR": str(data_dir), "OTPD_PORT": "x"})
    assert bad.returncode == 1 and "port" in bad.stderr


def test_serve_env_port_and_host(data_dir: Path) -> None:
    server = Server(data_dir, env={"OTPD_HOST": "127.0.0.1"}, name="cli-env")
    with server:
        assert server.url.startswith("http://127.0.0.1:")
        with server.client() as http:
            assert http.get("/healthz").json() == {"status": "ok"}


def _start_fails(data_dir: Path) -> str:
    result = run_cli("serve", "--data-dir", str(data_dir), "--port", "0", timeout=60)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    return result.stderr


def test_missing_key_file_refuses_to_start(data_dir: Path) -> None:
    assert run_cli("tenant", "create", "acme", "--data-dir", str(data_dir)).returncode == 0
    (data_dir / "seal.key").unlink()
    stderr = _start_fails(data_dir)
    assert "key" in stderr.lower()
    assert not (data_dir / "seal.key").exists(), "must never create a new key over existing data"


def test_corrupt_key_file_refuses_and_is_not_overwritten(data_dir: Path) -> None:
    assert run_cli("tenant", "create", "acme", "--data-dir", str(data_dir)).returncode == 0
    key_file = data_dir / "seal.key"
    key_file.write_bytes(b"garbage\n")
    key_file.chmod(0o600)
    stderr = _start_fails(data_dir)
    assert "key" in stderr.lower()
    assert key_file.read_bytes() == b"garbage\n"


def test_wrong_key_file_refuses_and_is_not_overwritten(data_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    assert run_cli("tenant", "create", "acme", "--data-dir", str(data_dir)).returncode == 0
    assert run_cli("tenant", "create", "acme", "--data-dir", str(other)).returncode == 0
    foreign = (other / "seal.key").read_bytes()
    (data_dir / "seal.key").write_bytes(foreign)
    stderr = _start_fails(data_dir)
    assert "key" in stderr.lower()
    assert (data_dir / "seal.key").read_bytes() == foreign


def test_newer_schema_is_refused(data_dir: Path) -> None:
    assert run_cli("tenant", "create", "acme", "--data-dir", str(data_dir)).returncode == 0
    db = data_dir / "otpd.sqlite3"
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("INSERT INTO schema_version (version, applied_at) VALUES (999, 0)")
    before = list(conn.iterdump())
    conn.close()
    stderr = _start_fails(data_dir)
    assert "999" in stderr and "newer" in stderr
    conn = sqlite3.connect(db)
    assert list(conn.iterdump()) == before, "a refused start must change nothing"
    conn.close()
