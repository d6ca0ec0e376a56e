"""Embedded mode: the key file `seal.key` beside the database
(docs/requirements.md#encrypted-at-rest; docs/requirements.md#key-hierarchy)."""

from __future__ import annotations

import base64
import json
import shutil
import stat
import threading
from pathlib import Path

import pytest

from otpd.core.errors import ConfigError, InvalidShare, Sealed
from otpd.core.model import SecretBytes
from otpd.crypto import SealManager, SealStatus, open_seal
from otpd.store.memory import MemoryStore
from tests.support.disk import listing

SECRET = SecretBytes(b"12345678901234567890")


def _key_text(data_dir: Path) -> str:
    return (data_dir / "seal.key").read_text().splitlines()[1]


def test_first_open_creates_key_file_and_keyring(data_dir: Path, store: MemoryStore) -> None:
    sealer = open_seal(data_dir, store)
    key_file = data_dir / "seal.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    lines = key_file.read_text().splitlines()
    assert lines[0] == "otpd-seal-key v1"
    assert len(base64.b64decode(lines[1], validate=True)) == 32
    assert json.loads(store.get_meta("seal_config") or "") == {"mode": "embedded"}
    keyring = store.get_meta("keyring") or ""
    assert lines[1] not in keyring  # the seal key is never in the database
    assert sealer.mode == "embedded"
    assert not sealer.is_sealed()
    assert sealer.status() == SealStatus(sealed=False, progress=0, threshold=0, mode="embedded")
    assert sorted(listing(data_dir)) == ["seal.key"]  # no temporary files left behind


def test_reopen_uses_the_same_data_key(data_dir: Path, store: MemoryStore) -> None:
    blob = open_seal(data_dir, store).seal_secret(SECRET, tenant="acme", credential_id=3)
    before = listing(data_dir)
    again = open_seal(data_dir, store)
    assert again.open_secret(blob, tenant="acme", credential_id=3) == SECRET
    assert listing(data_dir) == before


def test_missing_key_file_with_keyring_refuses(data_dir: Path, store: MemoryStore) -> None:
    open_seal(data_dir, store)
    (data_dir / "seal.key").unlink()
    keyring = store.get_meta("keyring")
    with pytest.raises(ConfigError, match="missing"):
        open_seal(data_dir, store)
    assert listing(data_dir) == {}  # nothing created
    assert store.get_meta("keyring") == keyring


def test_missing_data_dir_with_keyring_refuses(data_dir: Path, store: MemoryStore) -> None:
    open_seal(data_dir, store)
    shutil.rmtree(data_dir)
    with pytest.raises(ConfigError, match="missing"):
        open_seal(data_dir, store)
    assert not data_dir.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"otpd-seal-key v1\n",
        b"otpd-seal-key v2\n" + base64.b64encode(bytes(range(32))) + b"\n",
        b"otpd-seal-key v1\n" + base64.b64encode(bytes(range(16))) + b"\n",
        b"otpd-seal-key v1\n!!!not base64!!!\n",
        b"otpd-seal-key v1\n" + base64.b64encode(bytes(range(32))) + b"\nextra\n",
        base64.b64encode(bytes(range(32))) + b"\n",
        b"\xff\xfe" * 40,
        b"otpd-seal-key v1\n" + b"A" * 10_000 + b"\n",
    ],
)
def test_corrupt_key_file_refuses_and_is_left_alone(
    data_dir: Path, store: MemoryStore, content: bytes
) -> None:
    open_seal(data_dir, store)
    key_file = data_dir / "seal.key"
    key_file.write_bytes(content)
    with pytest.raises(ConfigError, match="corrupt"):
        open_seal(data_dir, store)
    assert key_file.read_bytes() == content
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_corrupt_key_file_on_an_empty_database_refuses(data_dir: Path, store: MemoryStore) -> None:
    data_dir.mkdir()
    key_file = data_dir / "seal.key"
    key_file.write_bytes(b"garbage")
    key_file.chmod(0o600)
    with pytest.raises(ConfigError, match="corrupt"):
        open_seal(data_dir, store)
    assert listing(data_dir) == {"seal.key": b"garbage"}
    assert store.get_meta("keyring") is None


def test_another_valid_key_file_refuses(tmp_path: Path, data_dir: Path, store: MemoryStore) -> None:
    open_seal(data_dir, store)
    other = tmp_path / "other"
    open_seal(other, MemoryStore())
    shutil.copy2(other / "seal.key", data_dir / "seal.key")
    copied = (data_dir / "seal.key").read_bytes()
    with pytest.raises(ConfigError, match="wrong key file") as caught:
        open_seal(data_dir, store)
    assert (data_dir / "seal.key").read_bytes() == copied
    assert _key_text(data_dir) not in str(caught.value)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o620])
def test_key_file_open_to_others_refuses(data_dir: Path, store: MemoryStore, mode: int) -> None:
    open_seal(data_dir, store)
    key_file = data_dir / "seal.key"
    key_file.chmod(mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        open_seal(data_dir, store)
    assert stat.S_IMODE(key_file.stat().st_mode) == mode  # reported, not "fixed"


def test_key_file_that_is_not_a_file_refuses(data_dir: Path, store: MemoryStore) -> None:
    open_seal(data_dir, store)
    (data_dir / "seal.key").unlink()
    (data_dir / "seal.key").mkdir(mode=0o700)
    with pytest.raises(ConfigError, match="regular file"):
        open_seal(data_dir, store)


def test_copied_key_file_serves_a_new_database(tmp_path: Path, data_dir: Path) -> None:
    # docs/requirements.md: nodes of one deployment may share a copied key file.
    first = open_seal(data_dir, MemoryStore())
    other = tmp_path / "node2"
    other.mkdir()
    shutil.copy2(data_dir / "seal.key", other / "seal.key")
    store = MemoryStore()
    second = open_seal(other, store)
    assert _key_text(other) == _key_text(data_dir)
    assert not first.is_sealed()
    assert not second.is_sealed()
    assert open_seal(other, store).status().sealed is False


def test_concurrent_first_starts_agree_on_one_key(data_dir: Path, store: MemoryStore) -> None:
    barrier = threading.Barrier(4)
    results: list[SealManager] = []

    def start() -> None:
        barrier.wait()
        results.append(open_seal(data_dir, store))

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    blob = results[0].seal_secret(SECRET, tenant="t", credential_id=1)
    assert all(r.open_secret(blob, tenant="t", credential_id=1) == SECRET for r in results)
    assert sorted(listing(data_dir)) == ["seal.key"]


def test_seal_in_embedded_mode(data_dir: Path, store: MemoryStore) -> None:
    sealer = open_seal(data_dir, store)
    blob = sealer.seal_secret(SECRET, tenant="t", credential_id=1)
    sealer.seal()
    assert sealer.is_sealed()
    assert sealer.status() == SealStatus(sealed=True, progress=0, threshold=0, mode="embedded")
    with pytest.raises(Sealed):
        sealer.open_secret(blob, tenant="t", credential_id=1)
    with pytest.raises(Sealed):
        sealer.seal_secret(SECRET, tenant="t", credential_id=2)
    with pytest.raises(InvalidShare, match="not in shamir mode"):
        sealer.submit_share("1:" + "00" * 32)
    assert sealer.reset_progress("").sealed is True
    # A restart unseals from the key file again (docs/requirements.md#key-hierarchy: auto-unseal).
    assert open_seal(data_dir, store).open_secret(blob, tenant="t", credential_id=1) == SECRET
