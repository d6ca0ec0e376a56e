"""The gauge of credentials throttled or locked now (issue #13, docs/operations.md#metrics):
computed by each scrape from the database, so with two workers it is never summed twice, and
it falls when an administrator resets the credential."""

from __future__ import annotations

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.deployment import start_deployment
from tests.support.server import run_cli

THROTTLE = {"OTPD_THROTTLE_FREE_FAILURES": "2", "OTPD_THROTTLE_BASE_DELAY": "600"}


def _throttled(url: str) -> dict[str, float]:
    # A new connection each time: either worker may answer.
    text = httpx.get(url + "/metrics", headers={"connection": "close"}, timeout=10).text
    for family in text_string_to_metric_families(text):
        if family.name == "otpd_throttled_credentials":
            assert family.type == "gauge"
            return {s.labels["tenant"]: s.value for s in family.samples}
    raise AssertionError("no otpd_throttled_credentials in /metrics")


def test_throttled_credentials_gauge(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with start_deployment(
        data_dir, "throttled", "--workers", "2", env=THROTTLE, roles=("admin", "globex")
    ) as deployment:
        server, sb = deployment.server, deployment.sb()
        for name in ("bob", "carol", "dave"):
            assert sb.create(name).status_code == 201
        assert [_throttled(server.url)["acme"] for _ in range(4)] == [0] * 4
        for name in ("bob", "carol"):
            wrong = f"{(int(sb.code(name)) + 1) % 1_000_000:06d}"
            for _ in range(3):  # rejected, rejected (now throttled), throttled
                assert sb.verify(name, wrong).json() == {"valid": False}
        for _ in range(6):  # whichever worker answers: the count, not a sum over workers
            counts = _throttled(server.url)
            assert counts["acme"] == 2 and counts["globex"] == 0
        reset = run_cli("credential", "reset", "--tenant", "acme", "bob",
                        "--data-dir", str(data_dir))  # fmt: skip
        assert reset.returncode == 0, reset.stderr
        assert _throttled(server.url)["acme"] == 1
