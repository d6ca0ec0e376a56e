"""The system paths (unseal, seal, export) answer 503 "storage unavailable" when the database
cannot be used, as every vendor path does, never a 500 (docs/requirements.md#database-faults).
The real server on a real SQLite file; a table renamed under it makes every statement on that
table fail as a broken database would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from tests.support.deployment import start_deployment

SYSTEM = "/v1/state/strongbox/system"
UNAVAILABLE = {"errors": [{"error-message": "storage unavailable", "error-info": {}}]}


@contextmanager
def table_gone(database: Path, table: str) -> Iterator[None]:
    with closing(sqlite3.connect(database)) as conn:
        conn.execute(f"ALTER TABLE {table} RENAME TO {table}_away")
        conn.commit()
        try:
            yield
        finally:
            conn.execute(f"ALTER TABLE {table}_away RENAME TO {table}")
            conn.commit()


def test_unseal_seal_and_export_answer_503_when_the_store_is_unavailable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database = data_dir / "otpd.sqlite3"
    deployment = start_deployment(
        data_dir, "system-store", roles=("revealer", "sealer"), shares=(1, 1)
    )
    with deployment, deployment.http() as http:
        share = {"share": deployment.shares[0]}
        with table_gone(database, "meta"):  # the seal configuration an unseal re-reads
            refused = http.post(f"{SYSTEM}/unseal", json=share)
        assert (refused.status_code, refused.json()) == (503, UNAVAILABLE)
        assert http.post(f"{SYSTEM}/unseal", json=share).json()["sealed"] is False

        sealer = {"Authorization": f"Bearer {deployment.keys['sealer']}"}
        revealer = {"Authorization": f"Bearer {deployment.keys['revealer']}"}
        body = {"format": "pskc", "password": "a long export password"}
        with table_gone(database, "api_client"):  # every key is looked up there
            seal = http.post(f"{SYSTEM}/seal", headers=sealer)
            export = http.post(f"{SYSTEM}/export", json=body, headers=revealer)
        assert (seal.status_code, seal.json()) == (503, UNAVAILABLE)
        assert (export.status_code, export.json()) == (503, UNAVAILABLE)
        # the database back, both work: the 503s were the store's, not the callers'
        assert http.post(f"{SYSTEM}/export", json=body, headers=revealer).status_code == 200
        assert http.post(f"{SYSTEM}/seal", headers=sealer).json()["sealed"] is True
