"""Sealed: PhenixID answers 503 with an empty body on every path and method, before any
authentication or parsing (docs/requirements.md#encrypted-at-rest); unsealed, the same requests are
answered."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.phenixid import PATH, put
from tests.support.server import Server, run_cli


def test_sealed_is_503_then_unsealed_works(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    init = run_cli(
        "init", "--shares", "1", "--threshold", "1", "--json", "--data-dir", str(data_dir)
    )
    assert init.returncode == 0, init.stderr
    share = json.loads(init.stdout)["shares"][0]
    with Server(data_dir, name="phenixid-sealed") as server, server.client() as http:
        for method in ("PUT", "GET", "POST"):
            for path in (PATH, PATH + "/", "/api/authentication/other"):
                response = http.request(method, path, headers={"tenant": "ot"}, json={})
                assert (response.status_code, response.content) == (503, b""), (method, path)
                assert "content-type" not in response.headers
        unseal = run_cli("unseal", "--url", server.url, input=share + "\n")
        assert unseal.returncode == 0, unseal.stderr
        assert put(http, {"username": "x", "otp": "123456"}).status_code == 403  # no tenant ot
