"""Every error of the command line is one line on stderr, never a traceback, never a secret
(issue #13): each case prepares a data directory, runs the real `otpd`, checks the exit code."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.server import otpd_env, run_cli

SECRET = "k3y-that-must-never-show-Zq9"  # an API key in OTPD_KEY for every case


@dataclass
class Case:
    argv: list[str]  # {d} is the data directory, {f} a regular file, {port} a port in use
    status: int
    prepare: Callable[[Path], None] = lambda d: None
    stdin: str = ""
    env: dict[str, str] = field(default_factory=dict)
    says: str = ""  # a piece the one line must hold


def _empty(d: Path) -> None:
    d.mkdir()


def _sqlite_is_a_directory(d: Path) -> None:
    (d / "otpd.sqlite3").mkdir(parents=True)


def _newer_schema(d: Path) -> None:
    d.mkdir()
    assert run_cli("tenant", "create", "acme", "--data-dir", str(d)).returncode == 0
    with sqlite3.connect(d / "otpd.sqlite3") as db:
        db.execute("INSERT INTO schema_version VALUES (999, 0)")


ADMIN_ON_MISSING = [
    ["tenant", "list"],
    ["tenant", "show", "acme"],
    ["tenant", "create", "acme"],
    ["client", "create", "--tenant", "acme", "--name", "web", "--scopes", "read"],
    ["credential", "reset", "--tenant", "acme", "alice"],
    ["nas", "list"],
    ["export", "--tenant", "acme", "--format", "pskc", "-"],
    ["import", "--tenant", "acme", "--format", "otpauth", "-"],
    ["backup", "--to", "{d}.bak"],
]

CASES: dict[str, Case] = {
    "port in use": Case(["serve", "--port", "{port}"], 1, _empty, says="cannot listen"),
    "data dir under a file": Case(["serve"], 1, env={"OTPD_DATA_DIR": "{f}/sub"}),
    "data dir is a file (serve)": Case(["serve", "--data-dir", "{f}"], 1, says="not a dir"),
    "data dir is a file (tenant)": Case(["tenant", "list", "--data-dir", "{f}"], 1),
    "database file is a directory": Case(["tenant", "list"], 1, _sqlite_is_a_directory),
    "newer schema": Case(["tenant", "list"], 1, _newer_schema, says="newer"),
    "init under a file": Case(["init", "--shares", "3", "--threshold", "2"], 1, env={}),
    "bad port": Case(["serve", "--port", "70000"], 2, says="--port"),
    "bad port in env": Case(["serve"], 1, _empty, env={"OTPD_PORT": "x"}, says="OTPD_PORT"),
    "bad workers": Case(["serve", "--workers", "0"], 2),
    "bad public url": Case(["serve", "--public-url", "ftp://x"], 2, says="http"),
    "bad radius listen": Case(["serve", "--radius-listen", "nowhere:1"], 2),
    "unknown flag": Case(["tenant", "list", "--bogus"], 2, _empty),
    "unknown command": Case(["frobnicate"], 2),
    "no command": Case([], 2),
    "missing required": Case(["client", "create", "--tenant", "acme"], 2, _empty),
    "bad scopes": Case(
        ["client", "create", "--tenant", "a", "--name", "w", "--scopes", "nope"], 1, _empty
    ),
    "config unknown key": Case(["tenant", "list", "--config", "{d}/c.yaml"], 1, says="nope"),
    "config bad yaml": Case(["tenant", "list", "--config", "{d}/bad.yaml"], 1),
    "config missing": Case(["tenant", "list", "--config", "{d}/absent.yaml"], 1, _empty),
    "seal --key removed": Case(["seal", "--key", SECRET], 2, says="removed"),
    "unseal unreachable": Case(["unseal", "--url", "http://127.0.0.1:9"], 1, stdin="1-abc\n"),
    "unseal nothing": Case(["unseal"], 1, says="no share"),
}
for argv in ADMIN_ON_MISSING:
    CASES["missing data dir: " + " ".join(argv[:2])] = Case(argv, 1, says="no data directory")


def _config_files(d: Path) -> None:
    d.mkdir()
    (d / "c.yaml").write_text("nope: 1\n")
    (d / "bad.yaml").write_text("port: [unclosed\n")


CASES["config unknown key"].prepare = _config_files
CASES["config bad yaml"].prepare = _config_files


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_error_is_one_line(name: str, tmp_path: Path, busy_port: int) -> None:
    case = CASES[name]
    data_dir, a_file = tmp_path / "data", tmp_path / "a-file"
    a_file.write_text("not a directory\n")
    case.prepare(data_dir)
    before = sorted(tmp_path.rglob("*"))

    def fill(text: str) -> str:
        return text.format(d=data_dir, f=a_file, port=busy_port)

    env = {"OTPD_DATA_DIR": str(data_dir), "OTPD_KEY": SECRET}
    env |= {key: fill(value) for key, value in case.env.items()}
    if name == "init under a file":
        env["OTPD_DATA_DIR"] = str(a_file / "sub")
    result = subprocess.run(
        [sys.executable, "-m", "otpd", *(fill(arg) for arg in case.argv)],
        input=case.stdin,
        capture_output=True,
        text=True,
        env=otpd_env(env),
        timeout=60,
        cwd=tmp_path,
    )
    lines = result.stderr.splitlines()
    assert result.returncode == case.status, result.stderr
    assert len(lines) == 1 and lines[0].startswith("otpd: error: "), result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    assert case.says in lines[0]
    if case.says == "no data directory":
        assert str(data_dir) in lines[0]
        assert sorted(tmp_path.rglob("*")) == before, "a refused command created something"


def test_the_relative_default_is_refused_by_its_absolute_path(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "otpd", "tenant", "list"],
        capture_output=True,
        text=True,
        env=otpd_env(),
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr == (
        f"otpd: error: no data directory at {tmp_path / 'otpd-data'} (give --data-dir or "
        "OTPD_DATA_DIR; only `otpd init` and `otpd serve` create one)\n"
    )
    assert not (tmp_path / "otpd-data").exists()
