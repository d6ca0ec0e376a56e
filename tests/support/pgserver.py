"""A real PostgreSQL 15 for the tests: initdb and pg_ctl from the Debian packages, in a
temporary directory, on a free port, run as an unprivileged user when the tests run as root
(PostgreSQL refuses to run as root). One server per pytest-xdist worker (tests/conftest.py),
a fresh database per test module or test.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.support.server import free_port

USER = "otpd"  # the database superuser initdb creates; trust authentication, local only
_names = itertools.count(1)


def _bin(name: str) -> str:
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: install postgresql-15 (scripts/test does)")
    return found


class PgServer:
    def __init__(self, *, durable: bool = False) -> None:
        # Tests trade durability for speed; bench/scale_out.py wants PostgreSQL's defaults
        # (fsync, synchronous_commit), as SQLite runs with synchronous=FULL.
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="otpd-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chown(self.root, nobody.pw_uid, nobody.pw_gid)
            self._as = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}"]
            self._as += ["--clear-groups", "--"]
        self.log = self.root / "postgres.log"

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    def init(self) -> PgServer:
        sync = [] if self.durable else ["-N"]
        self._run(_bin("initdb"), "-D", str(self.data), "-U", USER, "--auth=trust", *sync)
        return self.start()

    def start(self) -> PgServer:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        options += " -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )
        return self

    def stop(self, mode: str = "fast") -> None:
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, prefix: str = "t") -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(_names)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
