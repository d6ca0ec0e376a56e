"""Export over HTTP on the real server: scope reveal only, PSKC decrypts with python-pskc to
the imported secrets, plaintext only when asked for, every export in the audit log."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from pskc import PSKC

from tests.support import builders as b
from tests.support import server as harness
from tests.support.deployment import prepare
from tests.support.server import run_cli

PATH = "/v1/state/strongbox/system/export"


def test_http_export_needs_scope_reveal(data_dir: Path, tmp_path: Path) -> None:
    creds = [b.Cred(f"user{i}", secrets.token_bytes(20)) for i in range(3)]
    for c in creds:
        harness.register_secret(c.secret)
    deployment = prepare(data_dir, roles=("revealer", "noreveal"))
    reveal, plain = deployment.keys["revealer"], deployment.keys["noreveal"]
    export = tmp_path / "in.txt"
    export.write_bytes(b.otpauth(creds))
    result = run_cli(
        "import",
        "--tenant",
        "acme",
        "--format",
        "otpauth",
        "--data-dir",
        str(data_dir),
        str(export),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    body = {"format": "pskc", "password": "a long export password", "select": "user*"}
    with deployment.start("http-export"), deployment.http() as http:
        server = deployment.server
        assert http.post(PATH, json=body).status_code == 401
        auth = {"Authorization": f"Bearer {plain}"}
        assert http.post(PATH, json=body, headers=auth).status_code == 403
        # the scope is checked with the key, before any body rule (docs/design.md#request-flow)
        bad_body = http.post(PATH, json={**body, "format": "csv"}, headers=auth)
        assert bad_body.status_code == 403, bad_body.text
        auth = {"Authorization": f"Bearer {reveal}"}
        short = http.post(PATH, json={**body, "password": "short"}, headers=auth)
        assert short.status_code == 400
        response = http.post(PATH, json=body, headers=auth)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/pskc+xml")
        assert response.headers["cache-control"] == "no-store"
        refused = http.post(PATH, json={"format": "otpauth"}, headers=auth)
        assert refused.status_code == 400
        text = http.post(PATH, json={"format": "otpauth", "insecure-plaintext": True}, headers=auth)
        assert text.text.count("otpauth://totp/") == 3
        log = server.wait_for_log("credential.export tenant=acme")
    container = PSKC(io.BytesIO(response.content))
    container.encryption.derive_key("a long export password")
    assert {k.key_userid: k.secret for k in container.keys} == {c.account: c.secret for c in creds}
    assert "credential.export tenant=acme caller=revealer target=credentials=3 outcome=ok" in log
