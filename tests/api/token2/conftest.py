"""One real server per test module (tests/harness.py), with API clients of every scope."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.api.token2.t2 import T2
from tests.harness import Server, create_client_key


@dataclass
class Keys:
    admin: str  # acme: read, write, verify, code, reveal
    verify: str  # acme: verify only
    read: str  # acme: read only
    write: str  # acme: write only
    other: str  # globex: read, write, verify


@dataclass
class Running:
    server: Server
    data_dir: Path
    keys: Keys
    t2: T2


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data_dir = tmp_path_factory.mktemp("token2") / "data"
    # A 30 s first backoff step, so a throttled credential stays throttled while a test looks.
    env = {"OTPD_THROTTLE_BASE_DELAY": "30"}
    server = Server(data_dir, env=env, name="token2").start()
    keys = Keys(
        admin=create_client_key(
            data_dir, "acme", "admin", ["read", "write", "verify", "code", "reveal"]
        ),
        verify=create_client_key(data_dir, "acme", "verifier", ["verify"]),
        read=create_client_key(data_dir, "acme", "reader", ["read"]),
        write=create_client_key(data_dir, "acme", "writer", ["write"]),
        other=create_client_key(data_dir, "globex", "admin", ["read", "write", "verify"]),
    )
    http = server.client()
    yield Running(server, data_dir, keys, T2(http, keys.admin))
    http.close()
    server.stop()


@pytest.fixture
def t2(running: Running) -> T2:
    return running.t2
