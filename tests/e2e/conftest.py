from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import Server, create_client_key
from tests.sb import Sb

ALL_SCOPES = ["read", "write", "verify", "code", "reveal"]


@dataclass
class Running:
    server: Server
    key: str
    sb: Sb


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """One embedded-mode server per test module, with an all-scopes client of tenant acme."""
    data_dir: Path = tmp_path_factory.mktemp("e2e") / "data"
    server = Server(data_dir, name="e2e").start()
    key = create_client_key(data_dir, "acme", "admin", ALL_SCOPES)
    sb = Sb.login(server.url, "admin", key)
    yield Running(server, key, sb)
    sb.close()
    server.stop()
