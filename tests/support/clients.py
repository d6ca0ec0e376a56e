"""Thin clients of the three vendor APIs over real HTTP, one per API's way of authenticating:
Strongbox logs in for a bearer token, Token2 puts the API key in the query, PhenixID sends
Basic auth and the tenant header."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tests.support import server as harness


@dataclass
class Sb:
    http: httpx.Client
    token: str

    @classmethod
    def login(cls, url: str, name: str, key: str, tenant: str | None = None) -> Sb:
        http = httpx.Client(base_url=url, timeout=30)
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


@dataclass
class Phenix:
    """PhenixID otp_token_auth calls as one API client of one tenant."""

    http: httpx.Client
    tenant: str
    authorization: str

    def put(self, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
        sent = {"Content-Type": "application/json", "tenant": self.tenant}
        sent["Authorization"] = self.authorization
        sent.update(headers or {})
        return self.http.put(PHENIX_PATH, content=json.dumps(body).encode(), headers=sent)

    def close(self) -> None:
        self.http.close()
