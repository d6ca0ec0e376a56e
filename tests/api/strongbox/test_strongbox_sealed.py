"""Sealed (Shamir mode, before the shares): every route and method of the API answers 503 with
the errors body, with or without a bearer, and nothing changes
(docs/requirements.md#encrypted-at-rest)."""

from __future__ import annotations

import json
from pathlib import Path

from otpd.api.strongbox.routes import RESOURCES
from tests.support.clients import Sb
from tests.support.server import Server, create_client_key, run_cli

SEALED = {"errors": [{"error-message": "strongbox sealed", "error-info": {}}]}


def _init(data_dir: Path) -> list[str]:
    result = run_cli(
        "init", "--shares", "3", "--threshold", "2", "--json", "--data-dir", str(data_dir)
    )
    assert result.returncode == 0, result.stderr
    shares: list[str] = json.loads(result.stdout)["shares"]
    return shares


def test_every_route_is_503_while_sealed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shares = _init(data_dir)
    key = create_client_key(
        data_dir, "acme", "admin", ["read", "write", "verify", "code", "reveal"]
    )
    with Server(data_dir, name="sb-sealed") as server, server.client() as http:
        bearer = {"Authorization": "Bearer 00000000-0000-0000-0000-000000000000"}
        for resource in RESOURCES:
            path = resource.path.replace("{name}", "alice")
            for method in (*resource.methods, "TRACE"):
                for headers in ({}, bearer):
                    response = http.request(method, path, json={"name": "alice"}, headers=headers)
                    assert response.status_code == 503, (method, path)
                    assert response.reason_phrase == "Service Unavailable"
                    if method != "HEAD":
                        assert response.json() == SEALED, (method, path)
        for share in shares[:2]:
            assert run_cli("unseal", "--url", server.url, input=share + "\n").returncode == 0
        sb = Sb.login(server.url, "admin", key)
        assert sb.get("/v1/config/strongbox/totp").json() == [], "nothing was created while sealed"
        sb.close()
