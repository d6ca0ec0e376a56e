"""Files on disk: a small, real file system that fills up (a tmpfs mounted for one test, root
only, and a writer that fills it to the last byte: the full-disk tests of the store and the
server), and a listing of a directory's files (what a refused command must leave as it was)."""

from __future__ import annotations

import contextlib
import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def small_tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` (e.g. "3m") mounted at tmp_path/disk for the duration."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert mounted.returncode == 0, f"needs root to mount a tmpfs: {mounted.stderr}"
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def fill(path: Path) -> None:
    """Write until the file system refuses (ENOSPC), down to the very last byte."""
    with path.open("wb", buffering=0) as f:

        def write_until_full(size: int) -> None:
            while True:
                f.write(b"\0" * size)

        for size in (65536, 4096, 512, 1):
            with pytest.raises(OSError, match="No space left") as refused:
                write_until_full(size)
            assert refused.value.errno == errno.ENOSPC


def listing(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` with its bytes: proves a refusal created or changed nothing."""
    if not directory.exists():
        return {}
    return {
        str(p.relative_to(directory)): p.read_bytes() for p in directory.rglob("*") if p.is_file()
    }
