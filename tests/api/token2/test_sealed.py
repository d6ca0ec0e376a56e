"""Token2: a sealed server answers every Token2 path with HTTP 503 and the failure body
of the call in the requested format, never `validation: "true"`; the enrolment image of a live
ticket is not served while sealed, and is again after unsealing."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.clients import T2
from tests.support.deployment import start_deployment
from tests.support.server import run_cli
from tests.support.token2 import oathtool, parse_any

CALLS = ["/createuser", "/validate", "/api.php"]
SEALED = "strongbox sealed"


def _assert_sealed(http: httpx.Client, key: str, userid: int, code: str, qr_path: str) -> None:
    for path in CALLS:
        for fmt in ("0", "1", "2", "3", None):
            params = {"api_key": key, "userid": str(userid), "token": code, "phone": "41791234567"}
            params |= {"action": "listusers"} if path == "/api.php" else {}
            params |= {"format": fmt} if fmt else {}
            # the gate answers before any body is read: `format` counts in the query string
            for response in (http.get(path, params=params), http.post(path, params=params)):
                assert response.status_code == 503, (path, fmt)
                shown = fmt or ("1" if path == "/api.php" else "0")
                body = parse_any(response, shown)
                if shown == "3":
                    assert body == "false"
                elif path == "/validate":
                    assert body == {"response": SEALED, "validation": "false"}
                elif path == "/createuser":
                    assert body == {
                        "response": SEALED,
                        "success": "false",
                        "error": SEALED,
                        "code": ["503"],
                    }
                else:
                    assert body == {"success": "false", "response": SEALED}
    in_body = http.post("/validate", data={"format": "1", "api_key": key, "token": code})
    assert in_body.status_code == 503 and parse_any(in_body, "0")["validation"] == "false"
    image = http.get(qr_path)
    assert image.status_code == 503 and image.headers["content-type"] != "image/png"
    assert http.get("/protected/json/sms/1").status_code == 503


def test_sealed_server_answers_503_in_every_format(tmp_path: Path) -> None:
    deployment = start_deployment(
        tmp_path / "data", "token2-sealed", roles=("admin", "sealer"), shares=(3, 2)
    )
    server, shares = deployment.server, deployment.shares
    key, seal_key = deployment.keys["admin"], deployment.keys["sealer"]
    with deployment, deployment.http() as http:
        _assert_sealed(http, key, 1, "123456", "/qr/" + "A" * 43 + ".png")
        for share in shares[:2]:
            assert run_cli("unseal", "--url", server.url, input=share + "\n").returncode == 0
        t2 = T2(http, key)
        user = t2.createuser()
        qr_path = user["hashqr"].removeprefix(server.url)
        assert http.get(qr_path).status_code == 200
        code = oathtool(user["hash"])
        sealed = run_cli("seal", "--url", server.url, env={"OTPD_KEY": seal_key})
        assert sealed.returncode == 0, sealed.stderr
        _assert_sealed(http, key, user["userid"], code, qr_path)
        for share in shares[1:]:
            assert run_cli("unseal", "--url", server.url, input=share + "\n").returncode == 0
        # nothing changed while sealed: the image is back and the code is accepted, once
        assert http.get(qr_path).status_code == 200
        assert t2.validate(user["userid"], code)["validation"] == "true"
        assert t2.validate(user["userid"], code)["validation"] == "false"
