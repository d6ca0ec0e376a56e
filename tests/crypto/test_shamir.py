"""Shamir mode: otpd init, unseal progress, bad shares, reset, seal
(docs/requirements.md#shamir)."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from otpd.core.errors import ConfigError, InvalidInput, InvalidShare, Sealed
from otpd.core.model import SecretBytes
from otpd.crypto import SealManager, SealStatus, init_shamir, open_seal
from otpd.store.memory import MemoryStore
from tests.support.disk import listing

SECRET = SecretBytes(b"12345678901234567890")
SHARE = re.compile(r"[1-9][0-9]{0,2}:[0-9a-f]{64}")


@pytest.fixture
def shares(data_dir: Path, store: MemoryStore) -> list[str]:
    return init_shamir(data_dir, store, shares=5, threshold=3)


def _unsealed(data_dir: Path, store: MemoryStore, shares: list[str]) -> SealManager:
    sealer = open_seal(data_dir, store)
    for share in shares[:3]:
        sealer.submit_share(share)
    assert not sealer.is_sealed()
    return sealer


def test_init_gives_distinct_shares(shares: list[str], store: MemoryStore) -> None:
    assert len(shares) == 5
    assert len(set(shares)) == 5
    assert all(SHARE.fullmatch(s) for s in shares)
    assert [int(s.split(":")[0]) for s in shares] == [1, 2, 3, 4, 5]
    config = json.loads(store.get_meta("seal_config") or "")
    assert config["mode"] == "shamir"
    assert (config["shares"], config["threshold"]) == (5, 3)
    meta = (store.get_meta("seal_config") or "") + (store.get_meta("keyring") or "")
    assert not any(s.split(":")[1] in meta for s in shares)  # shares are never stored


def test_open_is_sealed_and_needs_no_key_file(
    shares: list[str], data_dir: Path, store: MemoryStore
) -> None:
    before = listing(data_dir)
    sealer = open_seal(data_dir, store)
    assert sealer.mode == "shamir"
    assert sealer.is_sealed()
    assert sealer.status() == SealStatus(sealed=True, progress=0, threshold=3, mode="shamir")
    with pytest.raises(Sealed):
        sealer.seal_secret(SECRET, tenant="t", credential_id=1)
    assert listing(data_dir) == before  # no key file in Shamir mode


def test_progress_below_threshold(shares: list[str], data_dir: Path, store: MemoryStore) -> None:
    sealer = open_seal(data_dir, store)
    assert sealer.submit_share(shares[0]).progress == 1
    status = sealer.submit_share(shares[3])
    assert status == SealStatus(sealed=True, progress=2, threshold=3, mode="shamir")
    with pytest.raises(Sealed):
        sealer.open_secret(b"x" * 40, tenant="t", credential_id=1)


def test_foreign_share_does_not_count(
    tmp_path: Path, shares: list[str], data_dir: Path, store: MemoryStore
) -> None:
    foreign = init_shamir(tmp_path / "other", MemoryStore(), shares=5, threshold=3)
    sealer = open_seal(data_dir, store)
    sealer.submit_share(shares[0])
    for share in foreign:
        with pytest.raises(InvalidShare, match="does not belong") as caught:
            sealer.submit_share(share)
        assert share.split(":")[1] not in str(caught.value)
    assert sealer.status().progress == 1
    # A foreign share with a fresh index still does not count: two valid ones are needed.
    sealer.submit_share(shares[1])
    assert sealer.is_sealed()
    assert not sealer.submit_share(shares[2]).sealed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "a" * 64,
        ":" + "a" * 64,
        "0:" + "a" * 64,
        "6:" + "a" * 64,
        "256:" + "a" * 64,
        "-1:" + "a" * 64,
        "1:" + "g" * 64,
        "1:" + "a" * 63,
        "1:" + "a" * 66,
        "1 :" + "a" * 64,
        "1:" + "a" * 64 + ":",
        "1:" + "a" * 10_000_000,
        "1" * 10_000 + ":" + "a" * 64,
        "\u0661:" + "a" * 64,  # Arabic-Indic digit one
        "1:" + "\uff41" * 64,  # full-width letters
    ],
)
def test_malformed_share_does_not_count(
    shares: list[str], data_dir: Path, store: MemoryStore, text: str
) -> None:
    sealer = open_seal(data_dir, store)
    sealer.submit_share(shares[0])
    with pytest.raises(InvalidShare):
        sealer.submit_share(text)
    assert sealer.status().progress == 1


def test_same_share_twice_does_not_count(
    shares: list[str], data_dir: Path, store: MemoryStore
) -> None:
    sealer = open_seal(data_dir, store)
    sealer.submit_share(shares[2])
    for again in (shares[2], shares[2].upper(), f" {shares[2]}\n", "0" + shares[2]):
        with pytest.raises(InvalidShare, match="already given"):
            sealer.submit_share(again)
    assert sealer.status().progress == 1


def test_shares_tolerate_case_and_whitespace(
    shares: list[str], data_dir: Path, store: MemoryStore
) -> None:
    sealer = open_seal(data_dir, store)
    sealer.submit_share(shares[0].upper())
    sealer.submit_share(shares[1] + "\n")
    assert not sealer.submit_share("  " + shares[2]).sealed


@pytest.mark.parametrize(
    "order", [*itertools.permutations([0, 1, 2]), (4, 0, 3), (3, 4, 2), (1, 4, 3)]
)
def test_any_three_shares_in_any_order_unseal(
    shares: list[str], data_dir: Path, store: MemoryStore, order: tuple[int, ...]
) -> None:
    # Sealed under one set of shares, readable after unsealing with another.
    blob = _unsealed(data_dir, store, shares).seal_secret(SECRET, tenant="t", credential_id=9)
    sealer = open_seal(data_dir, store)
    for n, index in enumerate(order, start=1):
        status = sealer.submit_share(shares[index])
        assert status.sealed is (n < 3)
        assert status.progress == (n if n < 3 else 0)
    assert sealer.open_secret(blob, tenant="t", credential_id=9) == SECRET


def test_every_three_of_five_subset_unseals(
    shares: list[str], data_dir: Path, store: MemoryStore
) -> None:
    blob = _unsealed(data_dir, store, shares).seal_secret(SECRET, tenant="t", credential_id=1)
    for subset in itertools.combinations(shares, 3):
        sealer = open_seal(data_dir, store)
        for share in subset:
            sealer.submit_share(share)
        assert sealer.open_secret(blob, tenant="t", credential_id=1) == SECRET


def test_reset_discards_progress(shares: list[str], data_dir: Path, store: MemoryStore) -> None:
    sealer = open_seal(data_dir, store)
    nonce = sealer.submit_share(shares[0]).nonce
    assert len(nonce) == 32
    assert sealer.submit_share(shares[1]).nonce == nonce  # one nonce per ceremony
    assert sealer.reset_progress(nonce) == SealStatus(True, 0, 3, "shamir")
    assert sealer.status().nonce == ""
    again = sealer.submit_share(shares[0]).nonce  # no longer a duplicate
    assert again not in ("", nonce)  # a new ceremony draws a new nonce
    sealer.submit_share(shares[1])
    assert sealer.status().progress == 2
    assert not sealer.submit_share(shares[4]).sealed
    assert sealer.reset_progress("").sealed is False  # reset does not seal an unsealed node


@pytest.mark.parametrize("wrong", ["", "0" * 32, "\ud800", "é" * 32])
def test_reset_without_the_nonce_keeps_progress(
    shares: list[str], data_dir: Path, store: MemoryStore, wrong: str
) -> None:
    sealer = open_seal(data_dir, store)
    nonce = sealer.submit_share(shares[0]).nonce
    sealer.submit_share(shares[1])
    with pytest.raises(InvalidShare, match="nonce"):
        sealer.reset_progress(wrong)
    assert sealer.status().progress == 2 and sealer.status().nonce == nonce
    assert not sealer.submit_share(shares[2]).sealed  # the ceremony finishes as begun


def test_seal_forgets_the_keys(shares: list[str], data_dir: Path, store: MemoryStore) -> None:
    sealer = _unsealed(data_dir, store, shares)
    blob = sealer.seal_secret(SECRET, tenant="t", credential_id=1)
    sealer.seal()
    assert sealer.status() == SealStatus(True, 0, 3, "shamir")
    with pytest.raises(Sealed):
        sealer.open_secret(blob, tenant="t", credential_id=1)
    for share in shares[2:]:  # the shares used before count again
        sealer.submit_share(share)
    assert sealer.open_secret(blob, tenant="t", credential_id=1) == SECRET


def test_share_to_an_unsealed_node_changes_nothing(
    shares: list[str], data_dir: Path, store: MemoryStore
) -> None:
    sealer = _unsealed(data_dir, store, shares)
    assert sealer.submit_share(shares[0]) == SealStatus(False, 0, 3, "shamir")
    with pytest.raises(InvalidShare):
        sealer.submit_share("nonsense")


def test_init_refuses_an_initialised_store(
    tmp_path: Path, shares: list[str], data_dir: Path, store: MemoryStore
) -> None:
    keyring = store.get_meta("keyring")
    with pytest.raises(ConfigError, match="already initialised"):
        init_shamir(data_dir, store, shares=5, threshold=3)
    assert store.get_meta("keyring") == keyring
    embedded = MemoryStore()
    open_seal(tmp_path / "embedded", embedded)
    with pytest.raises(ConfigError, match="already initialised"):
        init_shamir(tmp_path / "elsewhere", embedded, shares=3, threshold=2)


def test_init_refuses_a_data_dir_with_a_key_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    open_seal(data_dir, MemoryStore())
    fresh = MemoryStore()
    with pytest.raises(ConfigError, match="key file"):
        init_shamir(data_dir, fresh, shares=3, threshold=2)
    assert fresh.get_meta("keyring") is None
    assert fresh.get_meta("seal_config") is None


@pytest.mark.parametrize(
    ("n", "k", "field"),
    [
        (0, 0, "shares"),
        (256, 3, "shares"),
        (3, 0, "threshold"),
        (3, 4, "threshold"),
        (5, 1, "threshold"),
    ],
)
def test_init_checks_its_parameters(
    data_dir: Path, store: MemoryStore, n: int, k: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        init_shamir(data_dir, store, shares=n, threshold=k)
    assert caught.value.field == field
    assert store.get_meta("seal_config") is None


@pytest.mark.parametrize(("n", "k"), [(1, 1), (2, 2), (10, 7)])
def test_other_splits(data_dir: Path, store: MemoryStore, n: int, k: int) -> None:
    shares = init_shamir(data_dir, store, shares=n, threshold=k)
    sealer = open_seal(data_dir, store)
    for share in reversed(shares[-k:]):
        sealer.submit_share(share)
    assert not sealer.is_sealed()


def test_open_refuses_a_half_written_init(data_dir: Path, store: MemoryStore) -> None:
    config = {"mode": "shamir", "shares": 1, "threshold": 1, "share_checks": ["0" * 64]}
    store.put_meta_if_absent("seal_config", json.dumps(config))
    with pytest.raises(ConfigError, match="no keyring"):
        open_seal(data_dir, store)


@pytest.mark.parametrize(
    "config",
    ["not json", "[]", '{"mode": "hsm"}', '{"mode": "shamir", "shares": 2, "threshold": 3}'],
)
def test_open_refuses_an_unreadable_seal_config(
    data_dir: Path, store: MemoryStore, config: str
) -> None:
    store.put_meta_if_absent("seal_config", config)
    with pytest.raises(ConfigError, match="seal configuration"):
        open_seal(data_dir, store)
    assert not data_dir.exists()
