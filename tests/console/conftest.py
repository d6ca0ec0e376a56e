"""Console fixtures (issue #16): the one deployment, with admins made by `otpd admin create`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.console import Console, create_admin
from tests.support.deployment import prepare


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """Tenants acme (role admin) and globex (role globex); console admins root (every tenant)
    and alice (tenant acme)."""
    data_dir = tmp_path_factory.mktemp("console") / "data"
    deployment = prepare(data_dir, roles=("admin", "globex"))
    admins = {
        "root": create_admin(data_dir, "root", "--all"),
        "alice": create_admin(data_dir, "alice", "--tenant", "acme"),
    }
    with deployment.start("console"):
        yield Console(deployment, admins)
