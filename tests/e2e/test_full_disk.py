"""the data directory's disk fills up. Writes fail with a clear 503 in each API's own error
form (never a 500, never a hang); once space is freed the server serves again, the database
passes `PRAGMA integrity_check`, and no acknowledged write is lost
(docs/requirements.md#database-faults).

The disk is a small tmpfs mounted on the data directory: the suite runs as root in CI, and
mounting is the one honest way to make ENOSPC happen to the real server.
"""

from __future__ import annotations

import base64
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from tests.support.deployment import start_deployment
from tests.support.disk import fill, small_tmpfs

CONFIG = "/v1/config/strongbox/totp"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    with small_tmpfs(tmp_path, "3m") as mount_point:
        yield mount_point


def test_full_disk_gives_503_and_loses_nothing(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    deployment = start_deployment(data_dir, "full-disk", roles=("noreveal",))
    server, key = deployment.server, deployment.keys["noreveal"]
    try:
        sb = deployment.sb("noreveal")
        secret = os.urandom(20)
        assert sb.create("keep", secret=secret).status_code == 201
        totp = pyotp.TOTP(base64.b32encode(secret).decode())
        used = totp.now()
        assert sb.verify("keep", used).json() == {"valid": True}
        acknowledged = ["keep"]

        filler = small_disk / "filler"
        fill(filler)
        statuses: list[int] = []
        for n in range(400):  # enough rows to outgrow any free room left in the WAL
            response = sb.create(f"full{n}", secret=os.urandom(20))
            statuses.append(response.status_code)
            if response.status_code == 201:
                acknowledged.append(f"full{n}")
            else:
                assert response.status_code == 503, response.text
                assert response.json()["errors"][0]["error-message"] == "storage unavailable"
            if statuses.count(503) >= 5:
                break
        assert 503 in statuses, "the disk never filled up"
        wrong = sb.verify("keep", "000000" if used != "000000" else "111111")
        assert wrong.status_code in (200, 503), wrong.text  # a failure counted, or 503
        assert sb.verify("keep", used).json() != {"valid": True}
        token2 = server.client().get(
            "/validate", params={"api": key, "token": used, "userid": "1", "format": "1"}
        )
        assert token2.status_code in (200, 503), token2.text

        filler.unlink()  # space again: the server serves without a restart
        assert sb.create("after", secret=os.urandom(20)).status_code == 201
        acknowledged.append("after")
        assert sb.verify("keep", used).json() == {"valid": False}
    finally:
        deployment.close()

    database = data_dir / "otpd.sqlite3"
    with sqlite3.connect(database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = {row[0] for row in conn.execute("SELECT name FROM credential")}
    conn.close()
    assert set(acknowledged) <= names

    with deployment.start("full-disk-after"):
        sb = deployment.sb("noreveal")
        for name in acknowledged:
            assert sb.get(f"{CONFIG}/{name}").status_code == 200, name
        assert sb.verify("keep", used).json() == {"valid": False}  # still consumed
