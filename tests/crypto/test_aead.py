"""Secrets at rest: round trip, integrity and row binding (docs/requirements.md#encrypted-at-rest at
the sealer level)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from otpd.core.errors import SecretCorrupted
from otpd.core.model import SecretBytes
from otpd.crypto import SealManager, open_seal
from otpd.crypto.aead import KeyringMismatch, new_keyring, open_blob, open_keyring, seal_blob
from otpd.store.memory import MemoryStore

secrets_ = st.binary(min_size=10, max_size=128)
tenants = st.text(min_size=1, max_size=63)
ids = st.integers(min_value=0, max_value=2**63 - 1)


@pytest.fixture(scope="module")
def sealer(tmp_path_factory: pytest.TempPathFactory) -> SealManager:
    # One manager for every example: Hypothesis runs many examples per test function.
    return open_seal(tmp_path_factory.mktemp("aead") / "data", MemoryStore())


@given(secret=secrets_, tenant=tenants, cid=ids)
def test_round_trip(sealer: SealManager, secret: bytes, tenant: str, cid: int) -> None:
    blob = sealer.seal_secret(SecretBytes(secret), tenant=tenant, credential_id=cid)
    assert secret not in blob
    assert sealer.open_secret(blob, tenant=tenant, credential_id=cid) == SecretBytes(secret)


@given(secret=secrets_, tenant=tenants, cid=ids, data=st.data())
def test_any_flipped_byte_is_corruption(
    sealer: SealManager, secret: bytes, tenant: str, cid: int, data: st.DataObject
) -> None:
    # format byte, key version, nonce, ciphertext and tag are all covered.
    blob = sealer.seal_secret(SecretBytes(secret), tenant=tenant, credential_id=cid)
    position = data.draw(st.integers(0, len(blob) - 1), label="position")
    mask = data.draw(st.integers(1, 255), label="mask")
    bad = bytearray(blob)
    bad[position] ^= mask
    with pytest.raises(SecretCorrupted):
        sealer.open_secret(bytes(bad), tenant=tenant, credential_id=cid)


@given(secret=secrets_, tenant=tenants, cid=ids, other_tenant=tenants, other_id=ids)
def test_blob_is_bound_to_its_row(
    sealer: SealManager, secret: bytes, tenant: str, cid: int, other_tenant: str, other_id: int
) -> None:
    # a ciphertext copied to another credential, in this tenant or another, does not open.
    assume((tenant, cid) != (other_tenant, other_id))
    blob = sealer.seal_secret(SecretBytes(secret), tenant=tenant, credential_id=cid)
    with pytest.raises(SecretCorrupted):
        sealer.open_secret(blob, tenant=other_tenant, credential_id=other_id)


@settings(max_examples=50)
@given(secret=secrets_, cut=st.integers(0, 200))
def test_truncated_or_extended_blob_is_corruption(
    sealer: SealManager, secret: bytes, cut: int
) -> None:
    blob = sealer.seal_secret(SecretBytes(secret), tenant="t", credential_id=1)
    for bad in (blob[: cut % len(blob)], blob + b"\x00" * (cut + 1)):
        with pytest.raises(SecretCorrupted):
            sealer.open_secret(bad, tenant="t", credential_id=1)


def test_separators_are_unambiguous(sealer: SealManager) -> None:
    # Tenant "a1" with id 2 must not share associated data with tenant "a" and id 12.
    blob = sealer.seal_secret(SecretBytes(b"0123456789"), tenant="a1", credential_id=2)
    with pytest.raises(SecretCorrupted):
        sealer.open_secret(blob, tenant="a", credential_id=12)


def test_blob_layout_and_fresh_nonces(sealer: SealManager) -> None:
    secret = SecretBytes(os.urandom(20))
    one = sealer.seal_secret(secret, tenant="t", credential_id=7)
    two = sealer.seal_secret(secret, tenant="t", credential_id=7)
    assert one[0] == 2  # format 2: sealed by the tenant's own data key (issue #14)
    assert one[1:5] == b"\x00\x00\x00\x01"  # its version 1
    assert len(one) == 1 + 4 + 12 + 20 + 16
    assert one[5:17] != two[5:17]  # a random nonce per seal


def test_old_key_versions_stay_readable() -> None:
    # docs/requirements.md#key-hierarchy: the keyring keeps every version; a blob names the one that
    # sealed it.
    seal_key = os.urandom(32)
    first = open_keyring(seal_key, new_keyring(seal_key))
    second = open_keyring(seal_key, new_keyring(seal_key))
    both = (2, {1: first[1][1], 2: second[1][1]})
    old = seal_blob(first, b"0123456789", "t", 1)
    new = seal_blob(both, b"abcdefghij", "t", 1)
    assert new[1:5] == b"\x00\x00\x00\x02"
    assert open_blob(both, old, "t", 1) == b"0123456789"
    assert open_blob(both, new, "t", 1) == b"abcdefghij"
    with pytest.raises(SecretCorrupted):
        open_blob(first, new, "t", 1)  # version 2 unknown to the old keyring


def test_keyring_needs_its_seal_key() -> None:
    text = new_keyring(os.urandom(32))
    assert set(json.loads(text)) == {"v", "active", "keys"}
    with pytest.raises(KeyringMismatch):
        open_keyring(os.urandom(32), text)


def test_sealed_secret_repr_is_masked(tmp_path: Path) -> None:
    sealer = open_seal(tmp_path / "d", MemoryStore())
    blob = sealer.seal_secret(SecretBytes(b"supersecret!"), tenant="t", credential_id=1)
    opened = sealer.open_secret(blob, tenant="t", credential_id=1)
    assert "supersecret" not in repr(opened)
    assert "supersecret" not in repr(sealer)
