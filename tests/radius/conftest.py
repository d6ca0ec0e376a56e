"""RADIUS fixtures: one deployment per module serving RADIUS (tests/support/deployment.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.deployment import Deployment, start_deployment


@pytest.fixture(scope="module")
def radius(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """One server per module with every role, and NAS `local` of tenant acme (127.0.0.1, otp,
    Message-Authenticator required); the admin makes credentials and reads codes."""
    data_dir = tmp_path_factory.mktemp("radius") / "data"
    local = ("--address", "127.0.0.1")
    deployment = start_deployment(data_dir, "radius", nas={"local": local}, radius=True)
    yield deployment
    deployment.close()
