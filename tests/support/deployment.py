"""The one deployment the tests run: API clients made from ONE roles table, then one or more
`otpd serve` on free ports, and a thin client of each vendor API for any role on any instance.

A role is an API client: its name, its tenant and its scopes. `admin` has every credential
scope, each single-scope role has exactly one, `noreveal` has all but reveal, `globex` is an
admin of another tenant (tenant isolation), `open`, `certs` and `noops` are admins of the
tenants with the PhenixID settings in TENANTS, and `sealer` may run `otpd seal --url`.

`start_deployment` builds every deployment in two halves: `prepare` makes a data directory
(optionally Shamir-sealed by `otpd init`), the roles' tenants and clients and the NAS a RADIUS
test needs; `Deployment.start` starts the instances, several on one data directory or each
with its own directory (sharing the seal key file, as docs/scale-out.md says) on one
`--database`, and again after a stop or a kill -9.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tests.support.clients import T2, Cred, Phenix, Sb, basic
from tests.support.server import Server, free_port, operator, register_secret

C = TypeVar("C", Sb, T2, Phenix)
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
    "open": ("open", ALL),
    "certs": ("certs", ALL),
    "noops": ("noops", ALL),
    "sealer": ("system", ("seal",)),
}
# The subjects tenant `certs` allows: as a proxy sends it, and as trustme's certificates have it.
CERT_SUBJECT = "CN=client-a,O=Acme AB,C=SE"
TLS_SUBJECT = "CN=client-a,OU=Payments,O=Acme AB"
_SUBJECTS = ("--client-cert-subject", CERT_SUBJECT, "--client-cert-subject", TLS_SUBJECT)
# `otpd tenant create` options of the tenants that are not plain Basic-auth PhenixID tenants.
TENANTS: dict[str, tuple[str, ...]] = {
    "open": ("--phenixid-auth", "none"),
    "certs": ("--phenixid-auth", "client-cert", *_SUBJECTS),
    "noops": ("--allowed-operation", ""),
}


@dataclass
class Deployment:
    """The instances, the data directory the roles were made in, every role's key (role ->
    key), each NAS's secret (name -> secret), the Shamir shares when sealed that way."""

    data_dir: Path
    keys: dict[str, str]
    database: str | None = None
    servers: list[Server] = field(default_factory=list)
    nas: dict[str, str] = field(default_factory=dict)
    radius_ports: list[int] = field(default_factory=list)  # one per instance, when asked
    shares: list[str] = field(default_factory=list)
    http_options: dict[str, Any] = field(default_factory=dict)  # e.g. verify= for TLS
    # (API, role, instance, its URL) -> client: a restarted instance has a new URL
    _clients: dict[tuple[str, str, Server, str], Sb | T2 | Phenix] = field(default_factory=dict)
    _enrolled: int = 0

    @property
    def server(self) -> Server:
        return self.servers[0]

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def radius_port(self) -> int:
        return self.radius_ports[0]

    def sb(self, role: str = "admin", on: Server | None = None) -> Sb:
        """A logged-in Strongbox session for the role (one login per role and instance)."""
        return self._client(Sb, role, on)

    def t2(self, role: str = "admin", on: Server | None = None) -> T2:
        """A Token2 client sending the role's key as api_key."""
        return self._client(T2, role, on)

    def phenix(self, role: str = "admin", on: Server | None = None) -> Phenix:
        """A PhenixID client with the role's Basic credentials and its tenant header."""
        return self._client(Phenix, role, on)

    def _client(self, kind: type[C], role: str, on: Server | None) -> C:
        """One client of each kind per role and instance (`on`, or the first), kept until
        `close`: a restarted instance has a new URL, and gets new clients."""
        server = on or self.server
        made = self._clients.get((kind.__name__, role, server, server.url))
        if not isinstance(made, kind):
            if kind is Sb:
                made = Sb.login(server.url, role, self.keys[role], **self.http_options)
            elif kind is T2:
                made = T2(self.http(server), self.keys[role])
            else:
                made = Phenix(self.http(server), ROLES[role][0], self.basic(role))
            assert isinstance(made, kind)
            self._clients[kind.__name__, role, server, server.url] = made
        return made

    def enrol(
        self,
        role: str = "admin",
        name: str | None = None,
        *,
        digits: int = 6,
        secret: bytes | None = None,
        **fields: Any,
    ) -> Cred:
        """A fresh credential in the role's tenant, made over Strongbox (so a test of another
        API verifies a credential it did not make); its secret is registered."""
        self._enrolled += 1
        name = name or f"user{self._enrolled}@example.org"
        secret = secret or os.urandom(20)
        sent = {"digits": digits, **fields} if digits != 6 else fields
        response = self.sb(role).create(name, secret=secret, **sent)
        assert response.status_code == 201, response.text
        return Cred(name, secret, digits)

    def createusers(self, count: int, role: str = "admin", on: Server | None = None) -> list[Cred]:
        """`count` credentials made over Token2 createuser (with their userids), on the
        first instance unless `on` names another."""
        t2 = self.t2(role, on)
        made = [t2.createuser() for _ in range(count)]
        names = {int(u["userid"]): u["username"] for u in t2.listusers()}
        return [
            Cred(names[int(body["userid"])], _b32(body["hash"]), userid=int(body["userid"]))
            for body in made
        ]

    def basic(self, role: str) -> str:
        """The role's PhenixID Authorization header value."""
        return basic(role, self.keys[role])

    def http(self, on: Server | None = None) -> httpx.Client:
        """A plain client of an instance (the caller closes it)."""
        return (on or self.server).client(**self.http_options)

    def start(
        self,
        name: str,
        *args: str,
        env: Mapping[str, str] | None = None,
        instances: int = 1,
        radius: bool = False,
        http_options: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """Start `instances` servers with `args` (the previous ones, if any, stopped first).

        Without a database every instance serves `data_dir`; on one `database` each after
        the first gets a directory of its own next to it, holding a copy of the seal key
        file. `radius` gives each a RADIUS listener on a free UDP port."""
        self.close()
        self.servers, self.radius_ports = [], []
        self.http_options = dict(http_options or {})
        try:
            for index, node in enumerate(_nodes(self.data_dir, self.database, instances)):
                extra = ["--database", self.database] if self.database else []
                if radius:
                    self.radius_ports.append(free_port(udp=True))
                    extra += ["--radius-listen", f"127.0.0.1:{self.radius_ports[-1]}"]
                label = name if instances == 1 else f"{name}{index}"
                server = Server(node, *extra, *args, env=dict(env or {}), name=label)
                self.servers.append(server.start())
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def init_shares(
    data_dir: Path, shares: int, threshold: int, database: str | None = None
) -> list[str]:
    """`otpd init --shares N --threshold K` on a fresh data directory: Shamir mode, sealed."""
    args = ("init", "--shares", str(shares), "--threshold", str(threshold), "--json")
    found: list[str] = json.loads(operator(*args, *_where(data_dir, database)))["shares"]
    return found


def create_roles(
    data_dir: Path, roles: Iterable[str] = ROLES, database: str | None = None
) -> dict[str, str]:
    """Each named role's tenant (with its TENANTS options) and API client, made by the
    operator's own commands; role -> key."""
    where = _where(data_dir, database)
    keys: dict[str, str] = {}
    for role in roles:
        tenant, scopes = ROLES[role]
        if tenant in TENANTS and not any(ROLES[r][0] == tenant for r in keys):
            operator("tenant", "create", tenant, *TENANTS[tenant], *where)
        args = ("--tenant", tenant, "--name", role, "--scopes", ",".join(scopes), "--json")
        keys[role] = json.loads(operator("client", "create", *args, *where))["key"]
    return keys


def create_nas(
    data_dir: Path, name: str, *options: str, database: str | None = None, input: str = ""
) -> str:
    """`otpd nas create --name NAME OPTIONS` (tenant acme unless OPTIONS name one); its shared
    secret, registered for the log check like every secret."""
    tenant = () if "--tenant" in options else ("--tenant", "acme")
    args = ("nas", "create", *tenant, "--name", name, *options, "--json")
    secret: str = json.loads(operator(*args, *_where(data_dir, database), input=input))["secret"]
    register_secret(secret.encode())
    return secret


def prepare(
    data_dir: Path,
    *,
    roles: Iterable[str] = ROLES,
    database: str | None = None,
    shares: tuple[int, int] | None = None,
    nas: Mapping[str, Sequence[str]] | None = None,
) -> Deployment:
    """The first half of the builder: `otpd init --shares N --threshold K` when `shares`
    is given (the instances then start sealed), the roles' tenants and clients, the NAS
    (name -> `otpd nas create` options), all in `data_dir`. Nothing runs yet: `start` it."""
    made = Deployment(data_dir, {}, database)
    if shares is not None:
        made.shares = init_shares(data_dir, *shares, database=database)
    made.keys = create_roles(data_dir, roles, database)
    for name, options in (nas or {}).items():
        made.nas[name] = create_nas(data_dir, name, *options, database=database)
    return made


def start_deployment(
    data_dir: Path,
    name: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    roles: Iterable[str] = ROLES,
    database: str | None = None,
    shares: tuple[int, int] | None = None,
    nas: Mapping[str, Sequence[str]] | None = None,
    **start: Any,
) -> Deployment:
    """`prepare` then `Deployment.start`: the deployment most tests want, running."""
    made = prepare(data_dir, roles=roles, database=database, shares=shares, nas=nas)
    return made.start(name, *args, env=env, **start)


def _nodes(data_dir: Path, database: str | None, instances: int) -> list[Path]:
    """Each instance's data directory: all the same one, or (one database) one each, sharing
    the embedded seal key file (docs/scale-out.md)."""
    if database is None:
        return [data_dir] * instances
    nodes = [data_dir.with_name(f"{data_dir.name}-node{i}") for i in range(1, instances)]
    share_seal_key(data_dir, *nodes)
    return [data_dir, *nodes]


def share_seal_key(source: Path, *targets: Path) -> None:
    """Nodes of one deployment share the embedded seal key file (docs/scale-out.md); in
    Shamir mode there is none, and each node is unsealed with the shares."""
    for target in targets:
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        if (source / "seal.key").exists():
            shutil.copy2(source / "seal.key", target / "seal.key")


def _b32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def _where(data_dir: Path, database: str | None) -> tuple[str, ...]:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # admin commands create none
    return ("--data-dir", str(data_dir)) + (("--database", database) if database else ())
