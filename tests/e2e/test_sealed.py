"""Shamir mode end to end: init, a sealed server answering 503 everywhere, unseal by shares
given as subprocess input, seal again, data intact (docs/requirements.md#encrypted-at-rest)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.deployment import prepare
from tests.support.server import Server, run_cli, unseal

VENDOR_PATHS = [
    ("GET", "/v1/config/strongbox/totp"),
    ("POST", "/v1/config/strongbox/totp"),
    ("GET", "/v1/state/strongbox/totp/alice"),
    ("POST", "/v1/state/strongbox/totp/alice/verify-code"),
    ("POST", "/v1/state/strongbox/totp/alice/get-code"),
    ("POST", "/v1/login"),
    ("GET", "/createuser"),
    ("GET", "/validate"),
    ("GET", "/api.php"),
    ("PUT", "/api/authentication/otp_token_auth"),
]


def _init(data_dir: Path) -> list[str]:
    result = run_cli(
        "init", "--shares", "5", "--threshold", "3", "--json", "--data-dir", str(data_dir)
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["threshold"] == 3 and len(set(out["shares"])) == 5
    return list(out["shares"])


def _assert_sealed_everywhere(server: Server) -> None:
    with server.client() as http:
        health = http.get("/healthz")
        assert health.status_code == 503 and health.json() == {"status": "sealed"}
        for method, path in VENDOR_PATHS:
            response = http.request(method, path, json={})
            assert response.status_code == 503, (method, path)
            if path.startswith("/v1/"):
                assert response.json() == {
                    "errors": [{"error-message": "strongbox sealed", "error-info": {}}]
                }


def test_shamir_lifecycle(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    shares = _init(data_dir)
    assert not (data_dir / "seal.key").exists()
    again = run_cli("init", "--shares", "5", "--threshold", "3", "--data-dir", str(data_dir))
    assert again.returncode == 1, "init must refuse an initialised store"
    deployment = prepare(data_dir, roles=("noreveal", "sealer"))
    key, seal_key = deployment.keys["noreveal"], deployment.keys["sealer"]

    with deployment.start("sealed"):
        server = deployment.server
        _assert_sealed_everywhere(server)
        assert unseal(server.url, shares[4]) == "sealed: 1 of 3 shares given"
        bad = run_cli("unseal", "--url", server.url, input="1:" + "00" * 32 + "\n")
        assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
        assert unseal(server.url, shares[1]) == "sealed: 2 of 3 shares given"
        _assert_sealed_everywhere(server)
        assert unseal(server.url, shares[2]) == "unsealed"

        sb = deployment.sb("noreveal")
        assert sb.create("alice", secret=os.urandom(20)).status_code == 201
        code = sb.code("alice")

        # seal: wrong key refused, scope seal works, then 503 everywhere again
        denied = run_cli("seal", "--url", server.url, env={"OTPD_KEY": key})
        assert denied.returncode == 1
        sealed = run_cli("seal", "--url", server.url, env={"OTPD_KEY": seal_key})
        assert sealed.returncode == 0, sealed.stderr
        _assert_sealed_everywhere(server)
        for share in (shares[0], shares[3], shares[1]):
            unseal(server.url, share)
        # nothing changed while sealed: the code from before is still accepted, once
        assert sb.verify("alice", code).json() == {"valid": True}
        assert sb.verify("alice", code).json() == {"valid": False}

    # a restart comes back sealed (docs/requirements.md#shamir), with the data intact
    with deployment.start("sealed-restart"):
        server = deployment.server
        _assert_sealed_everywhere(server)
        for share in shares[:3]:
            unseal(server.url, share)
        sb = deployment.sb("noreveal")
        assert sb.get("/v1/config/strongbox/totp/alice").status_code == 200
        assert sb.verify("alice", sb.code("alice")).json()["valid"] in (True, False)


@pytest.mark.parametrize("workers", ["2"])
def test_unseal_reaches_every_worker(tmp_path: Path, workers: str) -> None:
    data_dir = tmp_path / "data"
    shares = _init(data_dir)
    with Server(data_dir, "--workers", workers, name="sealed-workers") as server:
        for share in shares[:3]:
            unseal(server.url, share)
        with server.client() as http:
            # new connections land on either worker; every one must see the unsealed state
            for _ in range(30):
                with server.client() as fresh:
                    assert fresh.get("/healthz").status_code == 200
            assert http.get("/healthz").status_code == 200
