"""Thin clients of the three vendor APIs over real HTTP, one per API's way of authenticating:
Strongbox logs in for a bearer token, Token2 puts the API key in the query, PhenixID sends
Basic auth and the tenant header. `Cred` is a credential a test made, with its codes."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
from tests.support import server as harness


@dataclass
class Cred:
    """A credential a test enrolled: its name (and Token2 userid), secret and digits."""

    name: str
    secret: bytes
    digits: int = 6
    userid: int = 0

    def totp(self) -> pyotp.TOTP:
        return pyotp.TOTP(base64.b32encode(self.secret).decode(), digits=self.digits)

    def code(self) -> str:
        return str(self.totp().now())

    def at(self, step: int) -> str:
        """The code of one time step (30 s)."""
        return str(self.totp().at(step * 30))

    def wrong(self) -> str:
        """A well-formed code that matches no step near now (of any window up to skew 3)."""
        totp, now = self.totp(), time.time()
        near = {totp.at(now + delta) for delta in range(-90, 91, 30)}
        return next(c for c in (f"{n:0{self.digits}d}" for n in range(1, 99)) if c not in near)


@dataclass
class Sb:
    http: httpx.Client
    token: str

    @classmethod
    def login(cls, url: str, name: str, key: str, tenant: str | None = None, **options: Any) -> Sb:
        """`options` go to httpx.Client (e.g. verify= with a client certificate, for TLS)."""
        http = httpx.Client(base_url=url, timeout=30, **options)
        body: dict[str, Any] = {"username": name, "password": key}
        if tenant:
            body["tenant"] = tenant
        response = http.post("/v1/login", json=body)
        assert response.status_code == 200, response.text
        return cls(http, response.json()["token"])

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def create(self, name: str, secret: bytes | None = None, **fields: Any) -> httpx.Response:
        body: dict[str, Any] = {"name": name, **fields}
        if secret is not None:
            harness.register_secret(secret)
            body["passcode32"] = base64.b32encode(secret).decode().rstrip("=")
        return self.http.post("/v1/config/strongbox/totp", json=body, headers=self.auth)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, headers=self.auth, **kwargs)

    def code(self, name: str) -> str:
        response = self.http.post(f"/v1/state/strongbox/totp/{name}/get-code", headers=self.auth)
        assert response.status_code == 200, response.text
        code: str = response.json()["code"]
        return code

    def verify(self, name: str, code: Any) -> httpx.Response:
        return self.http.post(
            f"/v1/state/strongbox/totp/{name}/verify-code", json={"code": code}, headers=self.auth
        )

    def close(self) -> None:
        self.http.close()


@dataclass
class T2:
    """Token2 calls against one server."""

    http: httpx.Client
    key: str

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def post(self, path: str, **params: Any) -> httpx.Response:
        return self.http.post(path, params=params)

    def createuser(self, key: str | None = None, **params: Any) -> dict[str, Any]:
        """A createuser with format=1 that must succeed; registers the secret."""
        params.setdefault("phone", "41791234567")
        response = self.http.post(
            "/createuser", params={"api_key": key or self.key, "format": "1", **params}
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["success"] == "true", body
        harness.register_secret(base64.b32decode(body["hash"] + "=" * (-len(body["hash"]) % 8)))
        return body

    def validate(self, userid: object, token: str, key: str | None = None, **extra: Any) -> Any:
        params: dict[str, Any] = {"api": key or self.key, "token": token, "userid": userid}
        params["format"] = "1"
        response = self.http.get("/validate", params={**params, **extra})
        assert response.status_code == 200, response.text
        return response.json()

    def listusers(self, key: str | None = None) -> list[dict[str, str]]:
        response = self.http.get(
            "/api.php", params={"api_key": key or self.key, "action": "listusers"}
        )
        assert response.status_code == 200, response.text
        users: list[dict[str, str]] = response.json()
        return users

    def close(self) -> None:
        self.http.close()


PHENIX_PATH = "/api/authentication/otp_token_auth"


def basic(name: str, key: str) -> str:
    return "Basic " + base64.b64encode(f"{name}:{key}".encode()).decode()


def phenix_put(
    http: httpx.Client,
    body: Any = None,
    *,
    tenant: str | None = "acme",
    auth: str | None = None,
    headers: Mapping[str, str] | None = None,
    path: str = PHENIX_PATH,
    content: Any = None,
) -> httpx.Response:
    """One PhenixID otp_token_auth call: `body` as JSON, or `content` as it is (bytes or an
    iterator of chunks); no tenant header when `tenant` is None."""
    sent = {"Content-Type": "application/json"}
    if tenant is not None:
        sent["tenant"] = tenant
    if auth is not None:
        sent["Authorization"] = auth
    sent.update(headers or {})
    data = content if content is not None else json.dumps(body).encode()
    return http.put(path, content=data, headers=sent)


@dataclass
class Phenix:
    """PhenixID otp_token_auth calls as one API client of one tenant."""

    http: httpx.Client
    tenant: str
    authorization: str

    def put(self, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
        return phenix_put(
            self.http, body, tenant=self.tenant, auth=self.authorization, headers=headers
        )

    def verify(self, cred: Cred, code: str) -> bool:
        """200 accepted, 403 refused; anything else fails the test."""
        response = self.put({"username": cred.name, "otp": code})
        assert response.status_code in (200, 403), response.text
        return response.status_code == 200

    def close(self) -> None:
        self.http.close()
