"""Seal state per `otpd serve` instance (issue #11): several instances on one data directory
never touch each other's state; a clean stop removes its files, a crashed one's are swept."""

from __future__ import annotations

import os
from pathlib import Path

from otpd.crypto import NodeSession, open_seal
from otpd.store.memory import MemoryStore


def _files(data_dir: Path) -> set[str]:
    return {p.name for p in (data_dir / "instances").iterdir()}


def test_instances_have_their_own_state(data_dir: Path) -> None:
    store = MemoryStore()
    first = NodeSession.start(data_dir)
    one = open_seal(data_dir, store, first)
    second = NodeSession.start(data_dir)  # a second start on the same data directory
    two = open_seal(data_dir, store, second)
    assert first.state_path != second.state_path
    two.seal()
    assert two.is_sealed() and not one.is_sealed()
    second.close()
    assert not one.is_sealed()
    first.close()


def test_clean_stop_removes_only_its_own_files(data_dir: Path) -> None:
    first, second = NodeSession.start(data_dir), NodeSession.start(data_dir)
    first.close()
    assert _files(data_dir) == {f"{second.session_id}{s}" for s in (".state", ".lock", ".alive")}
    second.close()
    assert _files(data_dir) == set()


def test_a_crashed_instance_is_swept_by_the_next_start(data_dir: Path) -> None:
    running, crashed = NodeSession.start(data_dir), NodeSession.start(data_dir)
    assert crashed._alive_fd is not None
    os.close(crashed._alive_fd)  # what the kernel does when its processes die
    later = NodeSession.start(data_dir)
    names = _files(data_dir)
    assert not any(name.startswith(crashed.session_id) for name in names)
    assert f"{running.session_id}.state" in names and f"{later.session_id}.state" in names
    running.close()
    later.close()
