"""Per-tenant data keys, rotation with re-encryption, crypto-erase and rekey (issue #14), on
the real sealer over a memory store and over a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from otpd.core.errors import ConfigError, InvalidShare, SecretCorrupted
from otpd.core.model import SecretBytes, Tenant
from otpd.core.nas import NasClient
from otpd.crypto import init_shamir, open_seal
from otpd.crypto.reencrypt import Reencryptor, progress
from otpd.crypto.rekey import rekey_embedded, rekey_shamir_start, rekey_verify
from otpd.store.memory import MemoryStore
from otpd.store.sqlite import SqliteStore

SECRET = SecretBytes(b"12345678901234567890")


def _tenants(store: MemoryStore | SqliteStore, *names: str) -> None:
    for name in names:
        store.create_tenant(Tenant(id=name))


def test_each_tenant_has_its_own_key(data_dir: Path, store: MemoryStore) -> None:
    sealer = open_seal(data_dir, store)
    a = sealer.seal_secret(SECRET, tenant="acme", credential_id=1)
    b = sealer.seal_secret(SECRET, tenant="beta", credential_id=1)
    assert a[:5] == b[:5] == b"\x02\x00\x00\x00\x01"  # format 2, each tenant's version 1
    assert [r.tenant for r in store.all_tenant_keys()] == ["acme", "beta"]
    # The same header under another tenant's key does not open: the AAD and the key differ.
    with pytest.raises(SecretCorrupted):
        sealer.open_secret(a, tenant="beta", credential_id=1)
    assert sealer.open_secret(a, tenant="acme", credential_id=1) == SECRET
    # The seal key and data keys are nowhere in the rows.
    key_text = (data_dir / "seal.key").read_text().splitlines()[1]
    assert all(key_text not in r.wrapped for r in store.all_tenant_keys())


def test_erase_makes_copied_ciphertexts_unreadable(data_dir: Path, tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "otpd.db")
    _tenants(store, "acme", "beta")
    sealer = open_seal(data_dir, store)
    nas_context = "radius-nas/acme/vpn"
    copied = [
        (sealer.seal_secret(SECRET, tenant="acme", credential_id=7), "acme", 7),
        (sealer.seal_secret(SECRET, tenant=nas_context, credential_id=0), nas_context, 0),
    ]
    kept = sealer.seal_secret(SECRET, tenant="beta", credential_id=8)
    assert store.delete_tenant("acme", erase=True)["tenant_key"] == 1
    live = open_seal(data_dir, store)  # the live key material: key file and database
    for blob, context, ident in copied:
        with pytest.raises(SecretCorrupted):
            live.open_secret(blob, tenant=context, credential_id=ident)
    assert live.open_secret(kept, tenant="beta", credential_id=8) == SECRET
    store.close()


def test_delete_without_erase_keeps_the_key(data_dir: Path, store: MemoryStore) -> None:
    _tenants(store, "acme")
    blob = open_seal(data_dir, store).seal_secret(SECRET, tenant="acme", credential_id=7)
    store.delete_tenant("acme")
    assert open_seal(data_dir, store).open_secret(blob, tenant="acme", credential_id=7) == SECRET


def _credential_blobs(store: SqliteStore) -> list[bytes]:
    return [r.blob for r in store.sealed_rows(0, 1000)]


def test_rotation_reencrypts_and_retires(data_dir: Path, tmp_path: Path) -> None:
    from tests.support.stores import make_record

    store = SqliteStore(tmp_path / "otpd.db")
    _tenants(store, "acme")
    sealer = open_seal(data_dir, store)
    old = []
    for n in range(120):  # more than one batch
        ident = store.allocate_credential_id()
        blob = sealer.seal_secret(SecretBytes(bytes([n]) * 20), tenant="acme", credential_id=ident)
        store.insert_credential(make_record(ident, name=f"u{n}", sealed_secret=blob))
        old.append((ident, blob))
    # A blob from before per-tenant keys (format 1, a keyring key) is migrated too.
    legacy_id = store.allocate_credential_id()
    legacy = _format1(data_dir, store, legacy_id)
    store.insert_credential(make_record(legacy_id, name="legacy", sealed_secret=legacy))

    nas_blob = sealer.seal_secret(SECRET, tenant="radius-nas/acme/vpn", credential_id=0)
    store.insert_nas(NasClient("acme", "vpn", ("192.0.2.0/24",), nas_blob))

    assert sealer.tenant_keys().rotate("acme") == 2
    fresh = sealer.seal_secret(SECRET, tenant="acme", credential_id=999)
    assert fresh[:5] == b"\x02\x00\x00\x00\x02"  # new writes use version 2 at once
    worker = Reencryptor(store, sealer, pause=0)
    assert worker.needed()
    before = progress()["done"]
    assert worker.run_pass(grace=0) == 122
    assert progress()["done"] - before == 122 and progress()["pending"] == 0
    (nas,) = store.list_nas("acme")  # the NAS secret follows its tenant's key too
    assert nas.sealed_secret[:5] == b"\x02\x00\x00\x00\x02"
    opened = sealer.open_secret(nas.sealed_secret, tenant="radius-nas/acme/vpn", credential_id=0)
    assert opened == SECRET
    assert all(b[:5] == b"\x02\x00\x00\x00\x02" for b in _credential_blobs(store))
    assert [r.version for r in store.tenant_keys("acme")] == [2]  # version 1 retired
    assert not worker.needed()
    for ident, blob in old:  # every secret is still the same secret
        record = store.get_credential_by_id("acme", ident)
        assert record is not None
        opened = sealer.open_secret(record.sealed_secret, tenant="acme", credential_id=ident)
        assert opened.reveal() == blob_plain(old, ident)
        with pytest.raises(SecretCorrupted):  # copies under the retired version are dead
            open_seal(data_dir, store).open_secret(blob, tenant="acme", credential_id=ident)
    store.close()


def blob_plain(old: list[tuple[int, bytes]], ident: int) -> bytes:
    return bytes([[i for i, _ in old].index(ident)]) * 20


def _format1(data_dir: Path, store: SqliteStore, ident: int) -> bytes:
    from otpd.crypto.aead import open_keyring, seal_blob
    from otpd.crypto.keyfile import read_key_file

    keyring = open_keyring(read_key_file(data_dir / "seal.key"), store.get_meta("keyring") or "")
    return seal_blob(keyring, b"legacy-secret-000000", "acme", ident)


def test_retirement_waits_for_the_grace(data_dir: Path, store: MemoryStore) -> None:
    sealer = open_seal(data_dir, store)
    sealer.seal_secret(SECRET, tenant="acme", credential_id=1)
    sealer.tenant_keys().rotate("acme")
    Reencryptor(store, sealer, pause=0).run_pass()  # default grace: the old version stays
    assert [r.version for r in store.tenant_keys("acme")] == [1, 2]


def test_embedded_rekey_keeps_running_sealer_and_data(data_dir: Path, store: MemoryStore) -> None:
    running = open_seal(data_dir, store)
    blob = running.seal_secret(SECRET, tenant="acme", credential_id=1)
    old_key = (data_dir / "seal.key").read_bytes()
    rekey_embedded(data_dir, store)
    assert (data_dir / "seal.key").read_bytes() != old_key
    assert not (data_dir / "seal.key.new").exists()
    assert running.open_secret(blob, tenant="acme", credential_id=1) == SECRET
    running.tenant_keys().rotate("acme")  # a running node creates versions after the rekey
    again = open_seal(data_dir, store)
    assert again.open_secret(blob, tenant="acme", credential_id=1) == SECRET
    assert again.seal_secret(SECRET, tenant="acme", credential_id=2)[:5] == b"\x02\0\0\0\x02"
    (data_dir / "seal.key").write_bytes(old_key)  # the old key no longer opens anything
    with pytest.raises(ConfigError, match="does not open the keyring"):
        open_seal(data_dir, store)


def test_shamir_rekey_needs_verification(data_dir: Path, store: MemoryStore) -> None:
    old_shares = init_shamir(data_dir, store, shares=3, threshold=2)
    running = open_seal(data_dir, store)
    for share in old_shares[:2]:
        running.submit_share(share)
    blob = running.seal_secret(SECRET, tenant="acme", credential_id=1)
    sealed_node = open_seal(data_dir, store)  # another node, still sealed
    with pytest.raises(InvalidShare):
        rekey_shamir_start(store, old_shares[:1], shares=5, threshold=3)
    new_shares = rekey_shamir_start(store, old_shares[1:], shares=5, threshold=3)
    # Pending only: the old shares still unseal.
    check = open_seal(data_dir, store)
    check.submit_share(old_shares[0])
    assert not check.submit_share(old_shares[2]).sealed
    with pytest.raises(InvalidShare):
        rekey_verify(store, new_shares[:2])  # below the new threshold
    rekey_verify(store, new_shares[2:])
    assert json.loads(store.get_meta("seal_config") or "")["threshold"] == 3
    assert running.open_secret(blob, tenant="acme", credential_id=1) == SECRET  # keeps serving
    with pytest.raises(InvalidShare):
        sealed_node.submit_share(old_shares[0])  # it re-read the configuration
    for share in new_shares[:3]:
        status = sealed_node.submit_share(share)
    assert not status.sealed
    assert sealed_node.open_secret(blob, tenant="acme", credential_id=1) == SECRET


def test_running_nodes_forget_an_erased_key(data_dir: Path, store: MemoryStore) -> None:
    from otpd.crypto.aead import tenant_kek
    from otpd.crypto.tenant_keys import CACHE_SECONDS, TenantKeys

    now = [0.0]
    sealer = open_seal(data_dir, store)
    keys = TenantKeys(store, tenant_kek(sealer._keys() or (0, {})), clock=lambda: now[0])
    version, key = keys.active("acme")
    assert keys.key("acme", version) == key  # cached
    store.create_tenant(Tenant(id="acme"))
    store.delete_tenant("acme", erase=True)
    assert keys.key("acme", version) == key  # still in this process's cache ...
    now[0] += CACHE_SECONDS
    with pytest.raises(SecretCorrupted):  # ... for at most CACHE_SECONDS
        keys.key("acme", version)
