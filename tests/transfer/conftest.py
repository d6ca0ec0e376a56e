"""Transfer fixtures: a real service over a real SQLite file (tests/support/transfer.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.transfer import Deployment, open_deployment


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    d = open_deployment(tmp_path / "otpd-data", 1_111_111_109, ("acme", "other"))
    yield d
    d.store.close()
