"""The `store` fixture runs every contract test over each backend (tests/support/stores.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from otpd.core.ports import CredentialStore
from tests.support.stores import BACKENDS, open_store


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CredentialStore]:
    backend = open_store(request.param, tmp_path, request)
    yield backend
    backend.close()
