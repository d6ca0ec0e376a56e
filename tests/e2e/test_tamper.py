"""A flipped byte in a stored secret, or a ciphertext moved to another row, fails closed
: an integrity error, never a code from a garbled key; other credentials unaffected."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from tests.support.deployment import start_deployment


def _secret_of(db: Path, name: str) -> bytes:
    conn = sqlite3.connect(db)
    try:
        row = conn.execute("SELECT secret FROM credential WHERE name = ?", (name,)).fetchone()
        return bytes(row[0])
    finally:
        conn.close()


def _set_secret(db: Path, name: str, blob: bytes) -> None:
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE credential SET secret = ? WHERE name = ?", (blob, name))
    finally:
        conn.close()


def test_tampered_and_moved_ciphertexts_fail_closed(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    db = data_dir / "otpd.sqlite3"
    with start_deployment(data_dir, "tamper", roles=("noreveal",)) as deployment:
        server, sb = deployment.server, deployment.sb("noreveal")
        for name in ("flipped", "moved", "intact"):
            assert sb.create(name, secret=os.urandom(20)).status_code == 201

        blob = bytearray(_secret_of(db, "flipped"))
        blob[len(blob) // 2] ^= 0x01
        _set_secret(db, "flipped", bytes(blob))
        _set_secret(db, "moved", _secret_of(db, "intact"))  # a valid ciphertext, wrong row

        for name in ("flipped", "moved"):
            for response in (
                sb.verify(name, "123456"),
                sb.http.post(f"/v1/state/strongbox/totp/{name}/get-code", headers=sb.auth),
            ):
                assert response.status_code == 500
                assert "integrity" in response.json()["errors"][0]["error-message"]
        assert sb.verify("intact", sb.code("intact")).json() == {"valid": True}
    assert "Traceback" not in server.log() or "SecretCorrupted" not in server.log()
