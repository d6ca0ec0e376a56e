"""Probes of an API key and a bearer token over real HTTP (issue #14: client revoke and
rotate), and the `otpd client` commands a test runs against a deployment."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from tests.support.clients import PHENIX_PATH, basic
from tests.support.server import run_cli

STRONGBOX_LIST = "/v1/config/strongbox/totp"


def client_cli(data_dir: Path, *args: str) -> str:
    """`otpd client ARGS --data-dir DIR` that must succeed; its standard output."""
    result = run_cli("client", *args, "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    return result.stdout


def client_json(data_dir: Path, *args: str) -> Any:
    return json.loads(client_cli(data_dir, *args))


def new_client(data_dir: Path, tenant: str, name: str, scopes: str) -> str:
    args = ("create", "--tenant", tenant, "--name", name, "--scopes", scopes, "--json")
    key: str = client_json(data_dir, *args)["key"]
    return key


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def login(url: str, name: str, key: str) -> str | None:
    """A Strongbox bearer token for the client, or None when the login is refused."""
    body = {"username": name, "password": key}
    response = httpx.post(url + "/v1/login", json=body, timeout=10)
    assert response.status_code in (200, 401), response.text
    return str(response.json()["token"]) if response.status_code == 200 else None


def token_works(url: str, token: str) -> bool:
    auth = {"Authorization": f"Bearer {token}"}
    response = httpx.get(url + STRONGBOX_LIST, headers=auth, timeout=10)
    assert response.status_code in (200, 401), response.text
    return response.status_code == 200


def token2_works(url: str, key: str) -> bool:
    params = {"api_key": key, "action": "listusers", "format": "1"}
    response = httpx.get(url + "/api.php", params=params, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    if isinstance(body, list):
        return True
    assert "invalid api key" in json.dumps(body), body
    return False


def phenix_works(url: str, tenant: str, name: str, key: str) -> bool:
    """Basic auth passes (an unknown user is then 403) or fails (401)."""
    headers = {"tenant": tenant, "Authorization": basic(name, key)}
    body = {"username": "nobody", "otp": "123456"}
    response = httpx.put(url + PHENIX_PATH, json=body, headers=headers, timeout=10)
    assert response.status_code in (401, 403), response.text
    return response.status_code == 403


def key_works(url: str, tenant: str, name: str, key: str) -> dict[str, bool]:
    """Whether the key opens each API: Token2's api_key, PhenixID Basic, Strongbox login."""
    return {
        "token2": token2_works(url, key),
        "phenixid": phenix_works(url, tenant, name, key),
        "login": login(url, name, key) is not None,
    }


def until(check: Callable[[], bool], seconds: float) -> float | None:
    """Poll `check` until it holds; the seconds it took, or None if it never held in time."""
    start = time.monotonic()
    while True:
        if check():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            return None
        time.sleep(0.02)
