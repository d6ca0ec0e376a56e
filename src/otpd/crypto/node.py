"""Seal state shared by the worker processes of one `otpd serve` instance
(docs/requirements.md#shamir).

`otpd serve --workers N` forks N processes after `NodeSession.start()`. A share given to any
worker must count for the instance, and `seal` on any worker must seal them all, so the state
lives in a file of its own, `DATA_DIR/instances/<session id>.state` (mode 0600, replaced
atomically under an flock). Each `otpd serve` has its own session id and so its own file:
several instances may share one data directory (a blue/green restart, docs/scale-out.md) and
starting, sealing or stopping one never changes another's state (issue #11). An instance holds
a shared flock on its `<id>.alive` file for its lifetime; a start removes the files of
instances whose lock is free (they are gone), and a clean stop removes its own.

The Shamir shares in it are encrypted with the session key, a random key that exists only in
the memory of this instance's processes: the file is useless to anyone who reads the disk, and
useless after a restart, which is what makes a restarted Shamir node come back sealed
(docs/requirements.md#shamir).

Otpd's answer to "do nodes share unseal progress?": workers of one instance do; separate
instances (sharing a data directory or a database) do not: as in Vault, each is unsealed on
its own (docs/scale-out.md).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import struct
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from otpd.crypto.aead import KEY_BYTES, NONCE_BYTES
from otpd.crypto.shamir import Share

__all__ = ["FileState", "MemoryState", "NodeSession", "NodeState", "StateStore", "live_sessions"]

INSTANCES_DIR = "instances"
_AAD = b"otpd/node-state/v1\x00"
_MAX_STATE = 64 * 1024


@dataclass(frozen=True)
class NodeState:
    """sealed: an operator sealed the node (sticky in embedded mode until restart).
    shares: Shamir shares given since the last seal or reset; once the node is unsealed, the
    threshold's worth that unsealed it, so a sibling worker can rebuild the key.
    nonce: drawn when the first share of a ceremony is accepted; a reset must carry it. It is
    kept with the shares (encrypted) so every worker of the node checks the same one."""

    sealed: bool
    shares: tuple[Share, ...] = ()
    generation: int = 0
    nonce: str = field(default="", repr=False)


FRESH = NodeState(sealed=False)
# Unreadable, foreign or missing state: nothing can be trusted, so nothing is unsealed
# (docs/requirements.md#sealed).
FAIL_CLOSED = NodeState(sealed=True)


class StateStore(Protocol):
    def changed(self) -> bool:
        """Cheap: might the state differ from what load/update last returned?"""
        ...

    def load(self) -> NodeState: ...

    def update(self, change: Callable[[NodeState], NodeState]) -> NodeState:
        """Atomic read-modify-write; `change` returns its argument to write nothing, and may
        raise to abort."""
        ...


class MemoryState:
    """One process only: one-shot CLI commands (open_seal with node=None)."""

    def __init__(self) -> None:
        self._state = FRESH

    def changed(self) -> bool:
        return False

    def load(self) -> NodeState:
        return self._state

    def update(self, change: Callable[[NodeState], NodeState]) -> NodeState:
        self._state = change(self._state)
        return self._state


class NodeSession:
    """Per-`otpd serve` node state shared by all worker processes of this node.

    Created once in the parent before workers fork, then inherited through fork memory. The
    session key is never written anywhere. start() resets the state file
    (docs/requirements.md#shamir).
    """

    def __init__(self, data_dir: Path, session_key: bytes, session_id: str) -> None:
        self.data_dir = data_dir
        folder = data_dir / INSTANCES_DIR
        self.state_path = folder / f"{session_id}.state"
        self.lock_path = folder / f"{session_id}.lock"
        self.alive_path = folder / f"{session_id}.alive"
        self._key = session_key
        self.session_id = session_id  # not secret: names this instance's files
        self._alive_fd: int | None = None

    def __repr__(self) -> str:
        return f"NodeSession({str(self.data_dir)!r}, session={self.session_id})"

    @classmethod
    def start(cls, data_dir: Path) -> NodeSession:
        """A new instance: its own files, created fresh; other instances' files untouched."""
        (data_dir / INSTANCES_DIR).mkdir(mode=0o700, parents=True, exist_ok=True)
        node = cls(data_dir, os.urandom(KEY_BYTES), os.urandom(16).hex())
        node._hold_alive()
        _sweep_stopped(data_dir / INSTANCES_DIR)
        FileState(node).update(lambda _old: FRESH)
        return node

    def _hold_alive(self) -> None:
        # Locked before it is visible under its name, so a concurrent sweep never takes a
        # starting instance for a stopped one. Forked workers inherit the descriptor, so the
        # lock lasts until the last process of this instance exits.
        fd, tmp = tempfile.mkstemp(dir=self.alive_path.parent, prefix=".alive.")
        fcntl.flock(fd, fcntl.LOCK_SH)
        os.replace(tmp, self.alive_path)
        self._alive_fd = fd

    def close(self) -> None:
        """Remove this instance's files (a clean stop); the state dies with the session key."""
        for path in (self.state_path, self.lock_path, self.alive_path):
            path.unlink(missing_ok=True)
        if self._alive_fd is not None:
            os.close(self._alive_fd)
            self._alive_fd = None

    # --- the file format -----------------------------------------------------------------
    def _aad(self, generation: int, sealed: bool) -> bytes:
        ident = self.session_id.encode("ascii")
        return _AAD + ident + struct.pack(">QB", generation, sealed)

    def encode(self, state: NodeState) -> bytes:
        inner = {"shares": [s.text() for s in state.shares], "nonce": state.nonce}
        plain = json.dumps(inner).encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        box = AESGCM(self._key).encrypt(nonce, plain, self._aad(state.generation, state.sealed))
        data = {
            "v": 2,
            "session": self.session_id,
            "generation": state.generation,
            "sealed": state.sealed,
            "shares": base64.b64encode(nonce + box).decode("ascii"),
        }
        return json.dumps(data).encode("ascii")

    def decode(self, raw: bytes) -> NodeState:
        try:
            data = json.loads(raw)
            generation, sealed = data["generation"], data["sealed"]
            if data["v"] != 2 or data["session"] != self.session_id:
                return FAIL_CLOSED  # another session's file: its shares are not ours to use
            if type(generation) is not int or type(sealed) is not bool:
                return FAIL_CLOSED
            box = base64.b64decode(data["shares"], validate=True)
            aad = self._aad(generation, sealed)
            inner = json.loads(AESGCM(self._key).decrypt(box[:NONCE_BYTES], box[NONCE_BYTES:], aad))
            shares = tuple(_share(t) for t in inner["shares"])
            ceremony = inner["nonce"]
            if type(ceremony) is not str:
                return FAIL_CLOSED
        except (ValueError, KeyError, TypeError, AttributeError, InvalidTag):
            return FAIL_CLOSED
        return NodeState(sealed=sealed, shares=shares, generation=generation, nonce=ceremony)


def _sweep_stopped(folder: Path) -> None:
    """Delete the files of instances that are no longer running (crashed or killed)."""
    for alive in folder.glob("*.alive"):
        try:
            fd = os.open(alive, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # held: that instance is running
        finally:
            os.close(fd)
        session = alive.name.removesuffix(".alive")
        for suffix in (".state", ".lock", ".alive"):
            (folder / (session + suffix)).unlink(missing_ok=True)


def live_sessions(data_dir: Path) -> set[str]:
    """The session ids of the instances of `data_dir` still running: a start removes the
    files of stopped ones (`_sweep_stopped`), so those whose `.alive` file remains."""
    folder = data_dir / INSTANCES_DIR
    return {alive.name.removesuffix(".alive") for alive in folder.glob("*.alive")}


def _share(text: str) -> Share:
    index, data = text.split(":")
    return Share(int(index), bytes.fromhex(data))


_Signature = tuple[int, int, int]


def _signature(info: os.stat_result) -> _Signature:
    # Every write replaces the file, so the inode changes; size and mtime guard the rare reuse
    # of an inode number. ctime is left out: rename updates it on some file systems.
    return (info.st_ino, info.st_size, info.st_mtime_ns)


class FileState:
    """The node state file, as seen by one worker."""

    def __init__(self, node: NodeSession) -> None:
        self._node = node
        self._seen: _Signature | None = None

    def changed(self) -> bool:
        try:
            current: _Signature | None = _signature(os.stat(self._node.state_path))
        except OSError:
            current = None
        return current != self._seen

    def load(self) -> NodeState:
        try:
            with open(self._node.state_path, "rb") as f:
                self._seen = _signature(os.fstat(f.fileno()))
                raw = f.read(_MAX_STATE + 1)
        except OSError:
            self._seen = None
            return FAIL_CLOSED
        return self._node.decode(raw) if len(raw) <= _MAX_STATE else FAIL_CLOSED

    def update(self, change: Callable[[NodeState], NodeState]) -> NodeState:
        with self._locked():
            old = self.load()
            new = change(old)
            if new is old:
                return old
            new = NodeState(new.sealed, new.shares, old.generation + 1, new.nonce)
            self._write(new)
            return new

    @contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._node.lock_path, os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _write(self, state: NodeState) -> None:
        path = self._node.state_path
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:  # mkstemp files are mode 0600
                f.write(self._node.encode(state))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        # Under the lock no sibling can replace the file, so this is the signature of our write.
        self._seen = _signature(os.stat(path))
