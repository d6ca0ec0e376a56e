"""Helpers shared by the crypto tests."""

from __future__ import annotations

from pathlib import Path


def listing(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` with its bytes: proves a refusal created or changed nothing."""
    if not directory.exists():
        return {}
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }
