"""Fixtures for the crypto tests: an in-memory store and a fresh data directory per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from otpd.store.memory import MemoryStore


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "otpd-data"
