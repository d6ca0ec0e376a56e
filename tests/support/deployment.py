"""One running otpd with keys: a fresh data directory, every role's API client, then
`otpd serve` on a free port, and a thin client of each vendor API for any role.

The roles come from ONE table. `admin` has every credential scope, each single-scope role has
exactly one, `noreveal` has all but reveal, and `globex` is an admin of another tenant (for
the tenant-isolation tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.support.clients import T2, Phenix, Sb, basic
from tests.support.server import Server

from otpd.bootstrap import build_runtime
from otpd.core.model import Scope
from otpd.settings import Settings

ALL = ("read", "write", "verify", "code", "reveal")
ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("acme", ALL),
    "reader": ("acme", ("read",)),
    "writer": ("acme", ("write",)),
    "verifier": ("acme", ("verify",)),
    "coder": ("acme", ("code",)),
    "revealer": ("acme", ("reveal",)),
    "noreveal": ("acme", ("read", "write", "verify", "code")),
    "globex": ("globex", ALL),
}


@dataclass
class Deployment:
    """A running server, its data directory and every role's key (role -> key)."""

    server: Server
    data_dir: Path
    keys: dict[str, str]
    sessions: dict[str, Sb] = field(default_factory=dict)
    _token2: dict[str, T2] = field(default_factory=dict)
    _phenix: dict[str, Phenix] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def sb(self, role: str = "admin") -> Sb:
        """A logged-in Strongbox session for the role (one login per role and deployment)."""
        if role not in self.sessions:
            self.sessions[role] = Sb.login(self.url, role, self.keys[role])
        return self.sessions[role]

    def t2(self, role: str = "admin") -> T2:
        """A Token2 client sending the role's key as api_key."""
        if role not in self._token2:
            self._token2[role] = T2(self.server.client(), self.keys[role])
        return self._token2[role]

    def phenix(self, role: str = "admin") -> Phenix:
        """A PhenixID client with the role's Basic credentials and its tenant header."""
        if role not in self._phenix:
            tenant = ROLES[role][0]
            auth = basic(role, self.keys[role])
            self._phenix[role] = Phenix(self.server.client(), tenant, auth)
        return self._phenix[role]

    def http(self) -> httpx.Client:
        """A plain client of the server (the caller closes it)."""
        return self.server.client()

    def close(self) -> None:
        for session in self.sessions.values():
            session.close()
        for clients in (self._token2, self._phenix):
            for client in clients.values():
                client.close()
        self.server.stop()


def create_clients(data_dir: Path) -> dict[str, str]:
    """Every role's key, made in-process before the server starts: what `otpd client create`
    does (tests/cli covers the command), without an interpreter start-up per role."""
    runtime = build_runtime(Settings(data_dir=data_dir))
    try:
        return {
            role: runtime.access.create_client(tenant, role, [Scope(s) for s in scopes])[1]
            for role, (tenant, scopes) in ROLES.items()
        }
    finally:
        runtime.close()


def start_deployment(
    data_dir: Path, name: str, *args: str, env: dict[str, str] | None = None
) -> Deployment:
    """Create every role's client in `data_dir`, then start `otpd serve` on it."""
    keys = create_clients(data_dir)
    server = Server(data_dir, *args, env=env, name=name).start()
    return Deployment(server, data_dir, keys)
