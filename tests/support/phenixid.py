"""PhenixID test helpers: tenants and clients by the CLI, credentials by Strongbox (so every
credential here was made through another API), codes from pyotp, requests over real HTTP."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from tests.support.clients import Sb
from tests.support.server import Server, create_client_key, run_cli

PATH = "/api/authentication/otp_token_auth"
JSON = {"Content-Type": "application/json"}
VOLATILE = {b"date", b"x-request-id"}


def tenant_cli(verb: str, data_dir: Path, tenant: str, *options: str) -> dict[str, Any]:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # admin commands create none
    result = run_cli("tenant", verb, tenant, *options, "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def basic(name: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{key}".encode()).decode()


@dataclass
class Cred:
    name: str
    secret: bytes
    digits: int = 6

    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(base64.b32encode(self.secret).decode(), digits=self.digits)

    def code(self) -> str:
        return str(self.totp().now())

    def wrong(self) -> str:
        """A well-formed code that matches no step of the window (skew 1)."""
        totp, now = self.totp(), time.time()
        window = {totp.at(now + delta) for delta in (-60, -30, 0, 30, 60)}
        return next(c for c in (f"{n:0{self.digits}d}" for n in range(1, 99)) if c not in window)


@dataclass
class Px:
    """A running server with a Strongbox admin of each tenant (to create credentials)."""

    server: Server
    data_dir: Path
    keys: dict[str, str] = field(default_factory=dict)  # "tenant/client" -> key
    admins: dict[str, Sb] = field(default_factory=dict)
    counter: int = 0

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, tenant: str, name: str, scopes: list[str]) -> str:
        key = create_client_key(self.data_dir, tenant, name, scopes)
        self.keys[f"{tenant}/{name}"] = key
        return key

    def auth(self, tenant: str, name: str) -> str:
        return basic(name, self.keys[f"{tenant}/{name}"])

    def cred(self, tenant: str, name: str | None = None, digits: int = 6, **kw: Any) -> Cred:
        """A fresh credential of `tenant`, created through the Strongbox API."""
        if tenant not in self.admins:
            key = self.client(tenant, "sb-admin", ["read", "write"])
            self.admins[tenant] = Sb.login(self.url, "sb-admin", key, tenant)
        self.counter += 1
        name = name or f"user{self.counter}@example.org"
        secret = kw.pop("secret", None) or os.urandom(20)
        fields = {"digits": digits, **kw} if digits != 6 else kw
        response = self.admins[tenant].create(name, secret=secret, **fields)
        assert response.status_code == 201, response.text
        return Cred(name, secret, digits)

    def close(self) -> None:
        for sb in self.admins.values():
            sb.close()
        self.server.stop()


def start(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    setup: Any = None,
) -> Px:
    """A fresh data directory, `setup(data_dir)` before the server starts, then the server."""
    data_dir = tmp_path_factory.mktemp(name) / "data"
    if setup is not None:
        setup(data_dir)
    server = Server(data_dir, *args, env=dict(env or {}), name=name).start()
    return Px(server, data_dir)


def put(
    http: httpx.Client,
    body: Any = None,
    *,
    tenant: str | None = "ot",
    auth: str | None = None,
    headers: Mapping[str, str] | None = None,
    path: str = PATH,
    content: bytes | None = None,
) -> httpx.Response:
    sent: dict[str, str] = dict(JSON)
    if tenant is not None:
        sent["tenant"] = tenant
    if auth is not None:
        sent["Authorization"] = auth
    sent.update(headers or {})
    data = content if content is not None else json.dumps(body).encode()
    return http.put(path, content=data, headers=sent)


def shape(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A response as compares it: status, every header but Date and x-request-id, body."""
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in VOLATILE]
    return response.status_code, headers, response.content


def raw_request(url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client normalising the path or headers); the answer's head."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


def raw_status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])
