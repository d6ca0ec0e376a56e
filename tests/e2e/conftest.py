"""One running deployment per test module (tests/support/deployment.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.deployment import Deployment, start_deployment


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One embedded-mode server per test module, with every role (admin: all scopes, acme)."""
    deployment = start_deployment(tmp_path_factory.mktemp("e2e") / "data", "e2e")
    yield deployment
    deployment.close()
