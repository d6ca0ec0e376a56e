"""One running deployment per test module (tests/support/deployment.py), Token2 clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clients import T2
from tests.support.deployment import Deployment, start_deployment


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("token2") / "data"
    # A 30 s first backoff step, so a throttled credential stays throttled while a test looks.
    env = {"OTPD_THROTTLE_BASE_DELAY": "30"}
    deployment = start_deployment(data_dir, "token2", env=env)
    yield deployment
    deployment.close()


@pytest.fixture
def t2(running: Deployment) -> T2:
    return running.t2()
