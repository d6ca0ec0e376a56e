"""One real otpd server per test module, with an API client per role and a second tenant.

Roles (NOTES.md §2 scopes): `admin` has every credential scope; each single-scope role has
exactly one; `noreveal` has all but reveal. `globex` is an admin of another tenant (R57, R58).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from otpd.bootstrap import build_runtime
from otpd.core.model import Scope
from otpd.settings import Settings
from tests.harness import Server
from tests.sb import Sb

ALL = ["read", "write", "verify", "code", "reveal"]
ROLES: dict[str, tuple[str, list[str]]] = {
    "admin": ("acme", ALL),
    "reader": ("acme", ["read"]),
    "writer": ("acme", ["write"]),
    "verifier": ("acme", ["verify"]),
    "coder": ("acme", ["code"]),
    "revealer": ("acme", ["reveal"]),
    "noreveal": ("acme", ["read", "write", "verify", "code"]),
    "globex": ("globex", ALL),
}


@dataclass
class Env:
    server: Server
    keys: dict[str, str]
    sessions: dict[str, Sb] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def sb(self, role: str = "admin") -> Sb:
        """A logged-in session for the role (one login per role and module)."""
        if role not in self.sessions:
            self.sessions[role] = Sb.login(self.url, role, self.keys[role])
        return self.sessions[role]

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()


def create_clients(data_dir: Path) -> dict[str, str]:
    """Every role's key, made in-process before the server starts: what `otpd client create`
    does (tests/cli covers the command), without eight interpreter start-ups per module."""
    runtime = build_runtime(Settings(data_dir=data_dir))
    try:
        return {
            role: runtime.service.create_client(tenant, role, [Scope(s) for s in scopes])[1]
            for role, (tenant, scopes) in ROLES.items()
        }
    finally:
        runtime.close()


def start_env(data_dir: Path, name: str, env: dict[str, str] | None = None) -> Env:
    keys = create_clients(data_dir)
    return Env(Server(data_dir, env=env, name=name).start(), keys)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Env]:
    data_dir = tmp_path_factory.mktemp("strongbox") / "data"
    running = start_env(data_dir, f"sb-{request.module.__name__.rsplit('.', 1)[-1]}")
    yield running
    running.close()
    running.server.stop()
