"""No secret the suite creates appears in a log line, even at debug level; submitted
codes are not logged either (docs/requirements.md#no-secret-leaves)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from tests.support import server as harness
from tests.support.deployment import start_deployment


def test_debug_logs_hold_no_secret_and_no_code(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    deployment = start_deployment(
        data_dir, "debug-logs", env={"OTPD_LOG_LEVEL": "debug"}, roles=("admin",)
    )
    server, sb, key = deployment.server, deployment.sb(), deployment.keys["admin"]
    secrets_made = [os.urandom(20) for _ in range(3)]
    codes = []
    for i, secret in enumerate(secrets_made):
        assert sb.create(f"u{i}", secret=secret).status_code == 201
        codes.append(sb.code(f"u{i}"))
        assert sb.verify(f"u{i}", codes[-1]).json() == {"valid": True}
        sb.verify(f"u{i}", codes[-1])
        sb.get(f"/v1/state/strongbox/totp/u{i}")
        sb.http.post(f"/v1/state/strongbox/totp/u{i}/get-qr-code", headers=sb.auth)
    # bad input that carries a secret must not echo it either
    bad = sb.http.post(
        "/v1/config/strongbox/totp",
        headers=sb.auth,
        json={"name": "bad", "passcode32": "A" * 31 + "1"},
    )
    assert bad.status_code == 400 and "A" * 31 not in bad.text
    generated = sb.create("generated")
    assert generated.status_code == 201
    deployment.close()

    log = server.log()
    assert "outcome=accepted" in log and "outcome=replayed" in log  # the audit lines exist
    for secret in secrets_made:
        for form in harness.secret_forms(secret):
            assert form not in log
    for code in codes:
        assert f'"{code}"' not in log and f"={code}" not in log
    assert key not in log
    # the SQLite file never holds a secret in clear
    raw = b"".join(p.read_bytes() for p in data_dir.glob("otpd.sqlite3*"))
    for secret in secrets_made:
        assert secret not in raw
        assert base64.b32encode(secret) not in raw
