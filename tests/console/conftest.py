"""Console fixtures (issue #16): a real `otpd serve` with admins made by `otpd admin create`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.console import ALL_SCOPES, Console, create_admin
from tests.support.server import Server, create_client_key


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    key = create_client_key(data_dir, "acme", "app", ALL_SCOPES)
    create_client_key(data_dir, "other", "app", ALL_SCOPES)
    admins = {
        "root": create_admin(data_dir, "root", "--all"),
        "alice": create_admin(data_dir, "alice", "--tenant", "acme"),
    }
    with Server(data_dir, name="console") as server:
        yield Console(server, data_dir, admins, key)
