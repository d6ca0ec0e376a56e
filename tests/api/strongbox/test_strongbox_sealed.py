"""Sealed (Shamir mode, before the shares): every route and method of the API answers 503 with
the errors body, with or without a bearer, and nothing changes
(docs/requirements.md#encrypted-at-rest)."""

from __future__ import annotations

from pathlib import Path

from otpd.api.strongbox.routes import RESOURCES
from tests.support.deployment import start_deployment
from tests.support.server import run_cli

SEALED = {"errors": [{"error-message": "strongbox sealed", "error-info": {}}]}


def test_every_route_is_503_while_sealed(tmp_path: Path) -> None:
    sealed = start_deployment(tmp_path / "data", "sb-sealed", roles=("admin",), shares=(3, 2))
    server, shares = sealed.server, sealed.shares
    with sealed, sealed.http() as http:
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
        listed = sealed.sb().get("/v1/config/strongbox/totp").json()
        assert listed == [], "nothing was created while sealed"
