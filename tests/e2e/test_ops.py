"""Operations end to end (issue #13) over real servers: metrics summed over two workers and
parsed with prometheus-client's parser, JSON log lines with the request id, the audit trail
in the database and `otpd audit verify` finding a deleted or edited row, liveness and
readiness while sealed and with the database gone, and no secret in any log line, audit row
or metric."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import server as harness
from tests.support.deployment import start_deployment
from tests.support.fakes import ref_totp
from tests.support.pgserver import PgServer
from tests.support.server import Server, run_cli

# Two failures free, then a minute's backoff: a third wrong code is refused as throttled.
THROTTLE = {"OTPD_THROTTLE_FREE_FAILURES": "2", "OTPD_THROTTLE_BASE_DELAY": "60"}
# A name nobody has: what a caller asks for that does not exist never reaches the trail.
GHOST = "ghost-not-enrolled"


def _verifications(metrics_text: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "otpd_verifications":
            for sample in family.samples:
                if sample.name == "otpd_verifications_total":
                    assert sample.labels["api"] == "strongbox"
                    assert sample.labels["tenant"] == "acme"
                    counts[sample.labels["outcome"]] += int(sample.value)
    return counts


def _scrape(url: str) -> str:
    # A new connection each time: either worker may answer, and each must show the sum.
    response = httpx.get(url + "/metrics", headers={"connection": "close"}, timeout=10)
    assert response.status_code == 200
    return response.text


def _audit(data_dir: Path, *args: str) -> list[dict[str, object]]:
    result = run_cli("audit", "--json", "--data-dir", str(data_dir), *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@dataclass
class Mix:
    server: Server
    data_dir: Path
    key: str
    token: str
    secrets: list[bytes]
    codes: list[str]
    request_id: str
    scrapes: list[str]


@pytest.fixture(scope="module")
def mix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mix]:
    """Two workers, JSON logs, and a scripted mix of every verification outcome."""
    data_dir = tmp_path_factory.mktemp("ops") / "data"
    deployment = start_deployment(
        data_dir, "ops", "--workers", "2", "--log-format", "json", env=THROTTLE, roles=("admin",)
    )
    server, key = deployment.server, deployment.keys["admin"]
    secrets_made = [os.urandom(20), os.urandom(20)]
    sb = deployment.sb()
    codes = []
    try:
        assert sb.create("alice", secret=secrets_made[0]).status_code == 201
        assert sb.create("bob", secret=secrets_made[1]).status_code == 201
        code = ref_totp(secrets_made[0], int(time.time()))
        codes.append(code)
        first = sb.verify("alice", code)
        assert first.json() == {"valid": True}
        assert sb.verify("alice", code).json() == {"valid": False}  # replayed
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(4):  # rejected, rejected, then throttled
            assert sb.verify("bob", wrong).json() == {"valid": False}
        assert sb.verify("nobody", wrong).status_code == 404  # unknown
        missing = sb.http.post(f"/v1/state/strongbox/totp/{GHOST}/get-code", headers=sb.auth)
        assert missing.status_code == 404
        scrapes = [_scrape(server.url) for _ in range(6)]
        yield Mix(
            server,
            data_dir,
            key,
            sb.token,
            secrets_made,
            [*codes, wrong],
            first.headers["x-request-id"],
            scrapes,
        )
    finally:
        deployment.close()


def test_metrics_count_every_true_outcome_over_two_workers(mix: Mix) -> None:
    data_dir = mix.data_dir
    trail = Counter(str(e["outcome"]) for e in _audit(data_dir, "--action", "verify"))
    assert set(trail) == {"accepted", "replayed", "rejected", "throttled", "unknown"}
    scrapes = mix.scrapes
    for text in scrapes:  # whichever worker answered, the sum of both
        assert _verifications(text) == trail
    families = {f.name: f for f in text_string_to_metric_families(scrapes[0])}
    offsets = families["otpd_accepted_step_offset"].samples
    assert any(s.name.endswith("_count") and s.value == 1 for s in offsets)
    sealed = [s.value for s in families["otpd_sealed"].samples]
    assert sealed and max(sealed) == 0
    routes = {s.labels.get("route") for s in families["otpd_request_duration_seconds"].samples}
    assert "/v1/state/strongbox/totp/{name}/verify-code" in routes
    assert not any("alice" in str(route) for route in routes)  # templates, never names


def test_json_log_lines_parse_and_carry_the_request_id(mix: Mix) -> None:
    server = mix.server
    request_id = mix.request_id
    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert lines and all({"time", "level", "logger", "event"} <= set(line) for line in lines)
    mine = [line for line in lines if line.get("request_id") == request_id]
    access = [line for line in mine if line["logger"] == "otpd.access"]
    assert len(access) == 1
    assert access[0]["status"] == 200 and access[0]["tenant"] == "acme"
    assert access[0]["client"] == "admin" and "duration_ms" in access[0]
    assert access[0]["route"] == "/v1/state/strongbox/totp/{name}/verify-code"
    assert any(line["logger"] == "otpd.audit" for line in mine)


def test_the_trail_holds_every_action_with_its_context(mix: Mix) -> None:
    data_dir = mix.data_dir
    entries = _audit(data_dir)
    actions = [e["action"] for e in entries]
    assert {"client.create", "login", "credential.create", "verify"} <= set(actions)
    accepted = [e for e in entries if e["outcome"] == "accepted"]
    assert len(accepted) == 1
    assert accepted[0]["request_id"] == mix.request_id
    assert accepted[0]["source"] == "127.0.0.1" and accepted[0]["caller"] == "admin"
    assert accepted[0]["target"] == "alice"
    refused = [e for e in entries if e["outcome"] == "notfound"]
    assert [e["action"] for e in refused] == ["credential.get-code"]
    assert all(e["target"] == "-" for e in refused)
    assert not [e for e in entries if GHOST in json.dumps(e)]
    verified = run_cli("audit", "verify", "--data-dir", str(data_dir))
    assert verified.returncode == 0 and "intact" in verified.stdout


@pytest.mark.parametrize(
    "tamper",
    [
        "DELETE FROM audit WHERE seq = 3",
        "UPDATE audit SET outcome = 'accepted' WHERE outcome = 'rejected'",
        "DELETE FROM audit WHERE seq = (SELECT MAX(seq) FROM audit)",
    ],
)
def test_audit_verify_finds_a_deleted_or_edited_row(mix: Mix, tmp_path: Path, tamper: str) -> None:
    data_dir = mix.data_dir
    copy = tmp_path / "copy"
    copy.mkdir(mode=0o700)
    with (
        closing(sqlite3.connect(data_dir / "otpd.sqlite3")) as source,
        closing(sqlite3.connect(copy / "otpd.sqlite3")) as target,
    ):
        source.backup(target)
    (copy / "seal.key").write_bytes((data_dir / "seal.key").read_bytes())
    with closing(sqlite3.connect(copy / "otpd.sqlite3")) as conn:
        assert conn.execute(tamper).rowcount >= 1
        conn.commit()
    result = run_cli("audit", "verify", "--data-dir", str(copy))
    assert result.returncode == 1 and "audit trail broken" in result.stderr


def test_no_secret_in_logs_audit_rows_or_metrics(mix: Mix) -> None:
    server, data_dir = mix.server, mix.data_dir
    with closing(sqlite3.connect(data_dir / "otpd.sqlite3")) as conn:
        rows = conn.execute(
            "SELECT time_us, tenant, caller, source, request_id, action, target, outcome FROM audit"
        ).fetchall()
    audit_text = "\n".join("|".join(map(str, row)) for row in rows)
    texts = {"log": server.log(), "audit": audit_text, "metrics": "\n".join(mix.scrapes)}
    forbidden = [mix.key, mix.token]
    for secret in mix.secrets:
        forbidden += harness.secret_forms(secret)
        forbidden.append(base64.b32encode(secret).decode().lower())
    for where, text in texts.items():
        for item in forbidden:
            assert item not in text, where
        for code in mix.codes:
            assert f'"{code}"' not in text and f"={code}" not in text and f"|{code}" not in text


def _status(url: str, path: str) -> tuple[int, dict[str, object]]:
    response = httpx.get(url + path, timeout=10)
    return response.status_code, response.json()


def test_readiness_flips_when_sealed_liveness_does_not(tmp_path: Path) -> None:
    sealed = start_deployment(tmp_path / "data", "ready-sealed", roles=(), shares=(1, 1))
    with sealed:
        server, share = sealed.server, sealed.shares[0]
        assert _status(server.url, "/livez") == (200, {"status": "alive"})
        status, body = _status(server.url, "/readyz")
        assert status == 503 and body["reasons"] == ["sealed"]
        assert run_cli("unseal", "--url", server.url, input=share + "\n").returncode == 0
        assert _status(server.url, "/readyz") == (200, {"status": "ready"})
        assert _status(server.url, "/livez")[0] == 200


def test_readiness_flips_when_the_database_goes_away(tmp_path: Path) -> None:
    pg = PgServer().init()
    try:
        env = {"OTPD_DATABASE": pg.create_database(), "OTPD_DATABASE_STATEMENT_TIMEOUT": "1"}
        with Server(tmp_path / "data", env=env, name="ready-db") as server:
            assert _status(server.url, "/readyz") == (200, {"status": "ready"})
            pg.stop("immediate")
            status, body = _status(server.url, "/readyz")
            assert status == 503 and "database unavailable" in body["reasons"]
            assert _status(server.url, "/livez") == (200, {"status": "alive"})
            pg.start()
    finally:
        pg.destroy()
