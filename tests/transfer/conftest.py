"""Transfer fixtures: a real service over a real SQLite file (tests/support/transfer.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.transfer import InProcess, open_services


@pytest.fixture
def in_process(tmp_path: Path) -> Iterator[InProcess]:
    d = open_services(tmp_path / "otpd-data", 1_111_111_109, ("acme", "other"))
    yield d
    d.store.close()
