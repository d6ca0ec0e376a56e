"""One running deployment per test module, with every role of tests/support/deployment.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.deployment import Deployment, start_deployment


@pytest.fixture(scope="module")
def env(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("strongbox") / "data"
    running = start_deployment(data_dir, f"sb-{request.module.__name__.rsplit('.', 1)[-1]}")
    yield running
    running.close()
