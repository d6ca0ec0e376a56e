"""Two or more `otpd serve` on one SQLite data directory (issue #11): independent seal state,
one winner per code, one throttle budget, a failed start that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.deployment import Deployment, start_deployment
from tests.support.scale import all_at_once, every_api, strongbox
from tests.support.server import Server, run_cli

THROTTLED_ENV = {"OTPD_THROTTLE_BASE_DELAY": "300"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Deployment]:
    deployment = start_deployment(
        tmp_path / "data", "sq", env=THROTTLED_ENV, roles=("admin",), instances=2
    )
    yield deployment
    deployment.close()


def test_second_start_never_seals_the_first(tmp_path: Path) -> None:
    deployment = start_deployment(tmp_path / "data", "first", roles=("admin", "sealer"))
    data_dir, sealer, first = deployment.data_dir, deployment.keys["sealer"], deployment.server
    try:
        cred = deployment.createusers(1)[0]
        with Server(data_dir, name="second") as second:
            assert first.health() == (200, {"status": "ok"})
            assert second.health() == (200, {"status": "ok"})
            # A start that fails (its port is taken) says why in one line, changes nothing.
            port = first.url.rsplit(":", 1)[1]
            taken = run_cli("serve", "--data-dir", str(data_dir), "--port", port, timeout=30)
            assert taken.returncode == 1
            assert taken.stderr.startswith("otpd: error: cannot listen on 127.0.0.1:")
            assert taken.stderr.count("\n") == 1
            # Sealing the second leaves the first serving.
            sealed = run_cli("seal", "--url", second.url, input=sealer + "\n")
            assert sealed.returncode == 0, sealed.stderr
            assert second.health() == (503, {"status": "sealed"})
            assert first.health() == (200, {"status": "ok"})
        # Stopping the second leaves the first serving, and verifying.
        assert first.health() == (200, {"status": "ok"})
        assert strongbox(deployment, first)(cred, cred.code())
    finally:
        deployment.close()


@pytest.mark.slow
def test_one_winner_per_code_across_instances_and_apis(pair: Deployment) -> None:
    creds = pair.createusers(300)
    attempts = every_api(pair, pair.servers)
    with ThreadPoolExecutor(len(attempts)) as pool:
        accepted = [all_at_once(pool, attempts, cred) for cred in creds]
    assert accepted == [1] * len(creds)


def test_failures_on_several_instances_share_one_budget(pair: Deployment) -> None:
    cred = pair.createusers(1)[0]
    attempts = every_api(pair, pair.servers)  # 6: over both instances and all three APIs
    wrong = "000000" if cred.code() != "000000" else "111111"
    for attempt in attempts:  # six failures, at most three on one instance
        assert not attempt(cred, wrong)
    # Five free failures in all: the sixth throttled the credential on every instance, so
    # even the right code is refused now, wherever it is sent.
    assert not attempts[-1](cred, cred.code())
    assert not attempts[0](cred, cred.code())
