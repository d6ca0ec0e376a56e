"""RADIUS fixtures: one real `otpd serve --radius-listen` per module (tests/support/radius.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clients import Sb
from tests.support.radius import ALL_SCOPES, Radius, free_udp_port, nas_create, radius_server
from tests.support.server import create_client_key


@pytest.fixture(scope="module")
def radius(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radius]:
    """One server per module: tenant acme, NAS `local` (127.0.0.1, otp, Message-Authenticator
    required) and an all-scopes Strongbox client to make credentials and codes."""
    data_dir = tmp_path_factory.mktemp("radius") / "data"
    key = create_client_key(data_dir, "acme", "admin", ALL_SCOPES)
    secret = nas_create(data_dir, "--tenant", "acme", "--name", "local", "--address", "127.0.0.1")
    port = free_udp_port()
    server = radius_server(data_dir, port).start()
    sb = Sb.login(server.url, "admin", key)
    yield Radius(server, port, secret, sb, data_dir, key)
    sb.close()
    server.stop()
