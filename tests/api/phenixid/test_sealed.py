"""Sealed: PhenixID answers 503 with an empty body on every path and method, before any
authentication or parsing (docs/requirements.md#encrypted-at-rest); unsealed, the same requests are
answered."""

from __future__ import annotations

from pathlib import Path

from tests.support.clients import PHENIX_PATH as PATH
from tests.support.clients import phenix_put as put
from tests.support.deployment import start_deployment
from tests.support.server import run_cli


def test_sealed_is_503_then_unsealed_works(tmp_path: Path) -> None:
    sealed = start_deployment(tmp_path / "data", "phenixid-sealed", roles=(), shares=(1, 1))
    share, server = sealed.shares[0], sealed.server
    with sealed, sealed.http() as http:
        for method in ("PUT", "GET", "POST"):
            for path in (PATH, PATH + "/", "/api/authentication/other"):
                response = http.request(method, path, headers={"tenant": "ot"}, json={})
                assert (response.status_code, response.content) == (503, b""), (method, path)
                assert "content-type" not in response.headers
        unseal = run_cli("unseal", "--url", server.url, input=share + "\n")
        assert unseal.returncode == 0, unseal.stderr
        no_tenant = put(http, {"username": "x", "otp": "123456"}, tenant="ot")
        assert no_tenant.status_code == 403  # no tenant ot
