"""A small Strongbox client for tests: login, create, codes, verify over real HTTP."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

from tests import harness


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
