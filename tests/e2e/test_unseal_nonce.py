"""A Shamir unseal ceremony can only be reset by someone who gave a share: the first accepted
share draws a nonce, told only to share submitters, and a reset must carry it (as Vault's unseal
nonce). Before this, anyone who reached the port could discard the progress at will. And
`otpd seal` takes its key from OTPD_KEY or standard input, never from the command line."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.deployment import start_deployment
from tests.support.server import Server, run_cli

UNSEAL = "/v1/state/strongbox/system/unseal"
STATUS = "/v1/state/strongbox/system/seal-status"


def _post(server: Server, body: dict[str, object] | bytes) -> httpx.Response:
    with server.client() as http:  # a fresh connection: with two workers, either may answer
        if isinstance(body, bytes):
            return http.post(UNSEAL, content=body, headers={"Content-Type": "application/json"})
        return http.post(UNSEAL, json=body)


def _progress(server: Server) -> int:
    with server.client() as http:
        body = http.get(STATUS).json()
    assert "nonce" not in body, "seal-status is public: it must not tell the nonce"
    progress: int = body["progress"]
    return progress


def test_reset_needs_the_ceremony_nonce(tmp_path: Path) -> None:
    sealed = start_deployment(
        tmp_path / "data", "unseal-nonce", "--workers", "2", roles=(), shares=(5, 3)
    )
    with sealed:
        server, shares = sealed.server, sealed.shares
        # no ceremony yet: a reset changes nothing, and still wants a nonce
        assert _post(server, {"reset": True}).status_code == 400
        first = _post(server, {"share": shares[0]})
        assert first.status_code == 200
        nonce = first.json()["nonce"]
        assert isinstance(nonce, str) and len(nonce) == 32
        assert _post(server, {"share": shares[1]}).json()["nonce"] == nonce  # the node's nonce

        for bad in (
            {"reset": True},
            {"reset": True, "nonce": "0" * 32},
            {"reset": True, "nonce": nonce.upper()},
            {"reset": True, "nonce": 7},
            b'{"reset": true, "nonce": "\\ud800"}',
        ):
            refused = _post(server, bad)
            assert refused.status_code == 400, bad
            assert "nonce" in refused.json()["errors"][0]["error-message"]
            assert nonce not in refused.text
            assert _progress(server) == 2, bad

        reset = run_cli("unseal", "--reset", "--url", server.url, input=nonce + "\n")
        assert reset.returncode == 0, reset.stderr
        assert reset.stdout.strip() == "sealed: 0 of 3 shares given"
        assert _progress(server) == 0

        # a new ceremony draws a new nonce, and finishes
        given = run_cli("unseal", "--url", server.url, input=shares[2] + "\n")
        assert given.returncode == 0, given.stderr
        lines = given.stdout.splitlines()
        assert lines[0] == "sealed: 1 of 3 shares given"
        assert lines[1].startswith("nonce: ") and lines[1] != f"nonce: {nonce}"
        assert _post(server, {"share": shares[3]}).status_code == 200
        done = _post(server, {"share": shares[4]})
        assert done.json() == {"sealed": False, "progress": 0, "threshold": 3}
        # unsealed: a reset has nothing to discard and does not seal
        after = _post(server, {"reset": True, "nonce": "x"})
        assert after.status_code == 200 and after.json()["sealed"] is False


def test_seal_key_only_from_environment_or_stdin(tmp_path: Path) -> None:
    with start_deployment(tmp_path / "data", "seal-stdin", roles=("sealer",)) as deployment:
        server, seal_key = deployment.server, deployment.keys["sealer"]
        old_way = run_cli("seal", "--url", server.url, "--key", seal_key)
        assert old_way.returncode == 2
        assert old_way.stderr.count("\n") == 1 and seal_key not in old_way.stderr
        assert "OTPD_KEY" in old_way.stderr and "removed" in old_way.stderr
        with server.client() as http:
            assert http.get("/healthz").status_code == 200  # --key did not seal

        nothing = run_cli("seal", "--url", server.url)
        assert nothing.returncode == 1 and "OTPD_KEY" in nothing.stderr

        piped = run_cli("seal", "--url", server.url, input=seal_key + "\n")
        assert piped.returncode == 0, piped.stderr
        with server.client() as http:
            assert http.get("/healthz").status_code == 503
