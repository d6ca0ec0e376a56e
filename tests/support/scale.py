"""Several real `otpd serve` processes on one data directory or one PostgreSQL (issue #11):
credentials made over Token2, the same code sent to every instance through all three APIs."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
from tests.support import server as harness
from tests.support.server import Server, run_cli

ALL_SCOPES = "read,write,verify,code,reveal"
PHENIX_PATH = "/api/authentication/otp_token_auth"


def cli(data_dir: Path, database: str | None, *args: str, stdin: str = "") -> str:
    """An admin command on the deployment; its standard output (it must succeed)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # admin commands create none
    where = ["--data-dir", str(data_dir)] + (["--database", database] if database else [])
    result = run_cli(*args, *where, input=stdin)
    assert result.returncode == 0, result.stderr
    return result.stdout


def create_admin(data_dir: Path, database: str | None, tenant: str = "acme") -> str:
    cli(data_dir, database, "tenant", "create", tenant)
    args = ["client", "create", "--tenant", tenant, "--name", "admin", "--scopes", ALL_SCOPES]
    key: str = json.loads(cli(data_dir, database, *args, "--json"))["key"]
    return key


def create_sealer(data_dir: Path, database: str | None) -> str:
    """A client of the tenant `system` with scope seal, for `otpd seal --url`."""
    args = ["client", "create", "--tenant", "system", "--name", "ops", "--scopes", "seal"]
    key: str = json.loads(cli(data_dir, database, *args, "--json"))["key"]
    return key


def share_seal_key(source: Path, *targets: Path) -> None:
    """Nodes of one deployment share the embedded seal key file (docs/scale-out.md)."""
    for target in targets:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(source / "seal.key", target / "seal.key")


@dataclass
class Cred:
    userid: int
    name: str
    secret: bytes

    def code(self) -> str:
        return str(pyotp.TOTP(base64.b32encode(self.secret).decode()).now())


@dataclass
class Cluster:
    """Instances of one deployment, and an all-scopes client of tenant acme."""

    servers: list[Server]
    key: str
    tokens: dict[str, str] = field(default_factory=dict)  # url -> Strongbox bearer token

    def http(self, server: Server) -> httpx.Client:
        return httpx.Client(base_url=server.url, timeout=30)

    def token(self, server: Server) -> str:
        if server.url not in self.tokens:
            with self.http(server) as http:
                body = {"username": "admin", "password": self.key}
                response = http.post("/v1/login", json=body)
                assert response.status_code == 200, response.text
                self.tokens[server.url] = response.json()["token"]
        return self.tokens[server.url]

    def create_creds(self, count: int) -> list[Cred]:
        """`count` credentials made over Token2 on the first instance."""
        made: list[tuple[int, bytes]] = []
        with self.http(self.servers[0]) as http:
            for _ in range(count):
                params = {"api_key": self.key, "format": "1", "phone": "41791234567"}
                body = http.post("/createuser", params=params).json()
                assert body["success"] == "true", body
                secret = base64.b32decode(body["hash"] + "=" * (-len(body["hash"]) % 8))
                harness.register_secret(secret)
                made.append((int(body["userid"]), secret))
            params = {"api_key": self.key, "action": "listusers", "format": "1"}
            users = http.get("/api.php", params=params).json()
        names = {int(u["userid"]): u["username"] for u in users}
        return [Cred(userid, names[userid], secret) for userid, secret in made]


Attempt = Callable[[Cred, str], bool]


def strongbox(cluster: Cluster, server: Server) -> Attempt:
    http = cluster.http(server)
    auth = {"Authorization": f"Bearer {cluster.token(server)}"}

    def attempt(cred: Cred, code: str) -> bool:
        path = f"/v1/state/strongbox/totp/{cred.name}/verify-code"
        response = http.post(path, json={"code": code}, headers=auth)
        assert response.status_code == 200, response.text
        valid: bool = response.json()["valid"]
        return valid

    return attempt


def token2(cluster: Cluster, server: Server) -> Attempt:
    http = cluster.http(server)

    def attempt(cred: Cred, code: str) -> bool:
        params = {"api": cluster.key, "token": code, "userid": str(cred.userid), "format": "1"}
        response = http.get("/validate", params=params)
        assert response.status_code == 200, response.text
        return bool(response.json()["validation"] == "true")

    return attempt


def phenixid(cluster: Cluster, server: Server) -> Attempt:
    http = cluster.http(server)
    basic = base64.b64encode(f"admin:{cluster.key}".encode()).decode()
    headers = {"tenant": "acme", "Authorization": f"Basic {basic}"}

    def attempt(cred: Cred, code: str) -> bool:
        body = {"username": cred.name, "otp": code}
        response = http.put(PHENIX_PATH, json=body, headers=headers)
        assert response.status_code in (200, 403), response.text
        return response.status_code == 200

    return attempt


def every_api(cluster: Cluster, servers: Sequence[Server]) -> list[Attempt]:
    return [api(cluster, s) for s in servers for api in (strongbox, token2, phenixid)]


def all_at_once(pool: ThreadPoolExecutor, attempts: Sequence[Attempt], cred: Cred) -> int:
    """Send one code through every attempt at the same moment; how many accepted it."""
    code = cred.code()
    barrier = threading.Barrier(len(attempts))

    def go(attempt: Attempt) -> bool:
        barrier.wait(timeout=30)
        return attempt(cred, code)

    return sum(pool.map(go, attempts))
