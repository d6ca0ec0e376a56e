"""Worker processes of one node share seal state through the node state file
(docs/requirements.md#shamir): shares add up across workers, a seal anywhere seals everywhere,
a restart reseals."""

from __future__ import annotations

import base64
import json
import multiprocessing
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from otpd.core.errors import InvalidShare, Sealed
from otpd.core.model import SecretBytes
from otpd.crypto import NodeSession, SealManager, SealStatus, init_shamir, open_seal
from otpd.crypto.node import FileState
from otpd.crypto.shamir import combine, parse_share
from otpd.store.memory import MemoryStore

SECRET = SecretBytes(b"12345678901234567890")


@pytest.fixture
def shares(data_dir: Path, store: MemoryStore) -> list[str]:
    return init_shamir(data_dir, store, shares=5, threshold=3)


@pytest.fixture
def node(data_dir: Path, shares: list[str]) -> NodeSession:
    return NodeSession.start(data_dir)


def _workers(data_dir: Path, store: MemoryStore, node: NodeSession) -> tuple[SealManager, ...]:
    return open_seal(data_dir, store, node), open_seal(data_dir, store, node)


def _forms(raw: bytes) -> list[bytes]:
    return [raw, raw.hex().encode(), raw.hex().upper().encode(), base64.b64encode(raw)]


def _assert_no_key_material(node: NodeSession, shares: list[str], store: MemoryStore) -> None:
    parsed = [parse_share(s, _checks(store)) for s in shares]
    key = combine(parsed[:3])
    state = node.state_path.read_bytes()
    for raw in [key, key[:16], key[16:], *(p.data for p in parsed)]:
        assert not any(form in state for form in _forms(raw))
    assert not any(s.encode() in state for s in shares)


def _checks(store: MemoryStore) -> list[str]:
    checks: list[str] = json.loads(store.get_meta("seal_config") or "")["share_checks"]
    return checks


def test_shares_add_up_across_workers(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    one, two = _workers(data_dir, store, node)
    assert one.submit_share(shares[0]).progress == 1
    assert two.status() == SealStatus(True, 1, 3, "shamir")
    assert two.submit_share(shares[1]).progress == 2
    _assert_no_key_material(node, shares, store)
    with pytest.raises(InvalidShare, match="already given"):
        one.submit_share(shares[1])  # given to the sibling already
    assert not one.submit_share(shares[4]).sealed
    assert not two.is_sealed()
    blob = one.seal_secret(SECRET, tenant="t", credential_id=1)
    assert two.open_secret(blob, tenant="t", credential_id=1) == SECRET
    _assert_no_key_material(node, shares, store)
    assert stat.S_IMODE(node.state_path.stat().st_mode) == 0o600


def test_seal_on_one_worker_seals_the_other(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    one, two = _workers(data_dir, store, node)
    for share in shares[:3]:
        one.submit_share(share)
    blob = two.seal_secret(SECRET, tenant="t", credential_id=1)
    one.seal()
    assert two.is_sealed()
    with pytest.raises(Sealed):
        two.open_secret(blob, tenant="t", credential_id=1)
    assert two.status() == SealStatus(True, 0, 3, "shamir")
    two.submit_share(shares[3])
    assert one.status().progress == 1


def test_a_refused_change_still_shows_the_newest_state(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    """A worker whose view is one share behind, refusing a reset or a repeated share, must not
    be left showing the old progress (its file check had already seen the new file)."""
    one, two = _workers(data_dir, store, node)
    nonce = one.submit_share(shares[0]).nonce
    assert two.status().progress == 1
    one.submit_share(shares[1])  # two has not looked since
    with pytest.raises(InvalidShare):
        two.reset_progress("0" * 32)
    assert two.status().progress == 2 and two.status().nonce == nonce
    one.reset_progress(nonce)
    one.submit_share(shares[0])
    one.submit_share(shares[1])
    assert two.status().progress == 2
    one.reset_progress(one.status().nonce)
    one.submit_share(shares[0])
    one.submit_share(shares[1])  # two has not looked since the reset: a repeated share
    with pytest.raises(InvalidShare, match="already"):
        two.submit_share(shares[1])
    assert two.status().progress == 2


def test_reset_on_one_worker_resets_the_other(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    one, two = _workers(data_dir, store, node)
    nonce = one.submit_share(shares[0]).nonce
    assert two.submit_share(shares[1]).nonce == nonce  # the node's nonce, not the worker's
    assert two.status().nonce == nonce
    with pytest.raises(InvalidShare):
        one.reset_progress("f" * 32)
    assert two.status().progress == 2
    assert one.reset_progress(nonce).progress == 0
    assert two.status().progress == 0
    two.submit_share(shares[0])  # counts again after the reset
    assert one.status().progress == 1


def test_a_worker_started_late_joins_an_unsealed_node(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    one = open_seal(data_dir, store, node)
    for share in shares[2:]:
        one.submit_share(share)
    late = open_seal(data_dir, store, node)
    assert not late.is_sealed()


def test_restart_reseals_a_shamir_node(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    one = open_seal(data_dir, store, node)
    for share in shares[:3]:
        one.submit_share(share)
    restarted = NodeSession.start(data_dir)
    assert open_seal(data_dir, store, restarted).status() == SealStatus(True, 0, 3, "shamir")
    # Another instance on the same data directory keeps its own state (issue #11).
    assert not one.is_sealed()


def test_unreadable_state_fails_closed(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    one, two = _workers(data_dir, store, node)
    for share in shares[:3]:
        one.submit_share(share)
    node.state_path.write_bytes(b'{"v": 1, "garbage": true}')
    assert one.is_sealed()
    assert two.is_sealed()
    node.state_path.unlink()
    assert one.is_sealed()
    for share in shares[1:4]:  # shares still unseal, and rewrite a good state file
        two.submit_share(share)
    assert not one.is_sealed()


def test_is_sealed_reads_the_file_only_after_a_change(
    data_dir: Path,
    store: MemoryStore,
    shares: list[str],
    node: NodeSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one, two = _workers(data_dir, store, node)
    loads: list[int] = []
    original = FileState.load

    def counting(self: FileState) -> Any:
        loads.append(1)
        return original(self)

    monkeypatch.setattr(FileState, "load", counting)
    for _ in range(100):
        assert two.is_sealed()
    assert loads == []
    one.submit_share(shares[0])  # one update: read under the lock, then write
    assert len(loads) == 1
    assert two.status().progress == 1
    assert len(loads) == 2
    two.is_sealed()
    assert len(loads) == 2


def test_embedded_workers(data_dir: Path) -> None:
    store = MemoryStore()
    node = NodeSession.start(data_dir)
    one, two = _workers(data_dir, store, node)
    blob = one.seal_secret(SECRET, tenant="t", credential_id=1)
    assert two.open_secret(blob, tenant="t", credential_id=1) == SECRET
    two.seal()
    assert one.is_sealed()
    assert open_seal(data_dir, store, node).is_sealed()  # a late worker stays sealed too
    # A restart unseals from the key file (docs/requirements.md#key-hierarchy: auto-unseal comes up
    # unsealed).
    restarted = NodeSession.start(data_dir)
    assert (
        open_seal(data_dir, store, restarted).open_secret(blob, tenant="t", credential_id=1)
        == SECRET
    )


# --- real processes ----------------------------------------------------------------------


def _in_child(work: Callable[[], object]) -> object:
    """Run `work` in a forked process, as an `otpd serve` worker runs, and return its result."""
    ctx = multiprocessing.get_context("fork")
    queue = ctx.SimpleQueue()

    def target() -> None:
        try:
            queue.put(("ok", work()))
        except BaseException as exc:  # report it to the test, whatever it is
            queue.put(("error", repr(exc)))

    process = ctx.Process(target=target)
    process.start()
    process.join(timeout=60)
    assert process.exitcode == 0
    kind, value = queue.get()
    assert kind == "ok", value
    return value


def test_forked_workers_share_progress_and_seal(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    # The parent plays one worker; each child is another worker forked after NodeSession.start,
    # with its own copy of the store (the keyring is in the database before the fork).
    parent = open_seal(data_dir, store, node)

    def give(share: str) -> Callable[[], object]:
        return lambda: open_seal(data_dir, store, node).submit_share(share)

    assert _in_child(give(shares[4])) == SealStatus(True, 1, 3, "shamir")
    assert parent.status().progress == 1
    assert _in_child(give(shares[1])) == SealStatus(True, 2, 3, "shamir")
    assert parent.submit_share(shares[3]).sealed is False
    blob = parent.seal_secret(SECRET, tenant="acme", credential_id=5)

    def read_in_child() -> object:
        return (
            open_seal(data_dir, store, node)
            .open_secret(blob, tenant="acme", credential_id=5)
            .reveal()
        )

    assert _in_child(read_in_child) == SECRET.reveal()
    _assert_no_key_material(node, shares, store)
    assert _in_child(lambda: open_seal(data_dir, store, node).seal()) is None
    assert parent.is_sealed()
    with pytest.raises(Sealed):
        parent.open_secret(blob, tenant="acme", credential_id=5)


def test_forked_workers_inherit_an_unsealed_manager(
    data_dir: Path, store: MemoryStore, shares: list[str], node: NodeSession
) -> None:
    # A manager built before the fork is inherited; it still follows the node state.
    sealer = open_seal(data_dir, store, node)
    for share in shares[:2]:
        sealer.submit_share(share)
    assert _in_child(lambda: sealer.submit_share(shares[2]).sealed) is False
    assert not sealer.is_sealed()

    def seal_in_child() -> object:
        sealer.seal()
        return sealer.is_sealed()

    assert _in_child(seal_in_child) is True
    assert sealer.is_sealed()
