"""`otpd rekey`: replace the seal key on a running deployment (issue #14, docs/operations.md#keys).

A rekey re-wraps the keyring (the data keys stay the same), so running nodes, which hold the
keyring in memory, keep serving and never notice; only the next start or unseal needs the new
key material. At every step a crash leaves key material that opens the keyring in the database:

Embedded (`seal.key`): 1. the new key is written to `seal.key.new` (the database still holds the
keyring under the old key: `seal.key` opens it); 2. the re-wrapped keyring replaces the old one
in one compare-and-set (now `seal.key.new` opens it, and open_seal finishes the rename);
3. `seal.key.new` is renamed over `seal.key`, which removes the old key only after the commit.

Shamir: `start` checks a quorum of the old shares, makes the new shares and stores the new
configuration as *pending* beside the live one; `verify` takes a quorum of the new shares and
only then swaps configuration and keyring in one transaction (Vault's rekey with verification).
Until that commit the old shares unseal; after it the new ones, which the operator has by then.

After each named step the command calls `step_hook` (a no-op): the crash-safety test
(tests/e2e/test_keys_crash.py) runs the command in a process whose hook kills it with SIGKILL
there, as a power cut would.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

from otpd.core.errors import ConfigError, InvalidShare
from otpd.core.ports import CredentialStore
from otpd.crypto.aead import KEY_BYTES, KeyringMismatch, open_keyring, rewrap_keyring
from otpd.crypto.keyfile import (
    KEY_FILE_NAME,
    NEW_KEY_FILE_NAME,
    fsync_dir,
    read_key_file,
    write_key_file,
)
from otpd.crypto.shamir import combine, parse_share, split

__all__ = ["finish_rekey", "rekey_embedded", "rekey_shamir_start", "rekey_verify", "step_hook"]

KEYRING = "keyring"
SEAL_CONFIG = "seal_config"
PENDING = "rekey_pending"
_LOCK_NAME = "rekey.lock"


class MetaStore(Protocol):
    def swap_meta(self, changes: dict[str, tuple[str, str]]) -> bool: ...

    def put_meta(self, key: str, value: str) -> None: ...

    def delete_meta(self, key: str) -> None: ...


def _no_hook(step: str) -> None:
    return None


step_hook: Callable[[str], None] = _no_hook  # called after each step (module docstring)


def _step(name: str) -> None:
    step_hook(name)


@contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    """One rekey at a time per data directory."""
    fd = os.open(data_dir / _LOCK_NAME, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError("another otpd rekey is running on this data directory") from None
        yield
    finally:
        os.close(fd)


def _meta(store: CredentialStore) -> MetaStore:
    if not hasattr(store, "swap_meta"):
        raise ConfigError("this store cannot rekey")
    meta: MetaStore = store  # type: ignore[assignment]
    return meta


def rekey_embedded(data_dir: Path, store: CredentialStore) -> None:
    """Replace `seal.key` with a new random key (steps in the module docstring)."""
    key_path, new_path = data_dir / KEY_FILE_NAME, data_dir / NEW_KEY_FILE_NAME
    with _exclusive(data_dir):
        text = store.get_meta(KEYRING)
        if text is None:
            raise ConfigError("the database holds no keyring yet; start otpd once first")
        if json.loads(store.get_meta(SEAL_CONFIG) or "{}").get("mode") != "embedded":
            raise ConfigError("not in embedded mode: give the shares (otpd rekey --shares)")
        old_key = finish_rekey(data_dir, text)  # also completes an interrupted rekey
        new_path.unlink(missing_ok=True)  # a rekey that died before its commit: never used
        new_key = os.urandom(KEY_BYTES)
        new_text = rewrap_keyring(old_key, new_key, text)
        write_key_file(new_path, new_key)
        _step("new-key-written")
        if not _meta(store).swap_meta({KEYRING: (text, new_text)}):
            new_path.unlink(missing_ok=True)
            raise ConfigError("the keyring changed during the rekey; nothing was changed")
        _step("committed")
        _promote(new_path, key_path)
        _step("renamed")


def finish_rekey(data_dir: Path, keyring_text: str) -> bytes:
    """The seal key that opens `keyring_text`: `seal.key`, or else `seal.key.new` of a rekey
    that committed and was interrupted before its rename (which this then completes)."""
    key_path, new_path = data_dir / KEY_FILE_NAME, data_dir / NEW_KEY_FILE_NAME
    key = read_key_file(key_path)
    try:
        open_keyring(key, keyring_text)
        return key
    except KeyringMismatch:
        pass
    if new_path.exists():
        new_key = read_key_file(new_path)
        try:
            open_keyring(new_key, keyring_text)
        except KeyringMismatch:
            pass
        else:
            _promote(new_path, key_path)
            return new_key
    raise ConfigError(
        f"seal key file {key_path} does not open the keyring in the database (wrong key file?)"
    )


def _promote(new_path: Path, key_path: Path) -> None:
    with suppress(FileNotFoundError):  # a starting node finished this rename (finish_rekey)
        os.replace(new_path, key_path)
    fsync_dir(key_path.parent)


def rekey_shamir_start(
    store: CredentialStore, old_shares: Sequence[str], *, shares: int, threshold: int
) -> list[str]:
    """Check a quorum of the old shares, store the pending configuration, return new shares.
    Nothing changes for unsealing until rekey_verify commits."""
    config, text = _shamir_config(store)
    old_key = _combine(old_shares, config)
    try:
        open_keyring(old_key, text)
    except KeyringMismatch:
        raise InvalidShare("the shares do not open this server's keyring") from None
    new_key = os.urandom(KEY_BYTES)
    parts = split(new_key, shares, threshold)
    new_config = {
        "mode": "shamir",
        "shares": shares,
        "threshold": threshold,
        "share_checks": [p.check() for p in parts],
    }
    pending = {
        "config": new_config,
        "keyring": rewrap_keyring(old_key, new_key, text),
        "from": text,
    }
    _meta(store).put_meta(PENDING, json.dumps(pending, sort_keys=True))
    _step("pending-written")
    return [p.text() for p in parts]


def rekey_verify(store: CredentialStore, new_shares: Sequence[str]) -> None:
    """Commit the pending rekey once a quorum of the new shares opens its keyring."""
    pending_text = store.get_meta(PENDING)
    if pending_text is None:
        raise ConfigError("no rekey is pending; run otpd rekey --shares N --threshold K first")
    pending = json.loads(pending_text)
    new_key = _combine(new_shares, pending["config"])
    try:
        open_keyring(new_key, pending["keyring"])
    except KeyringMismatch:
        raise InvalidShare("the shares do not open the pending keyring") from None
    old_config = store.get_meta(SEAL_CONFIG) or ""
    changes = {
        SEAL_CONFIG: (old_config, json.dumps(pending["config"])),
        KEYRING: (pending["from"], pending["keyring"]),
    }
    if not _meta(store).swap_meta(changes):
        raise ConfigError("the keyring changed since the rekey started; start it again")
    _step("committed")
    _meta(store).delete_meta(PENDING)


def _shamir_config(store: CredentialStore) -> tuple[dict[str, Any], str]:
    config_text, text = store.get_meta(SEAL_CONFIG), store.get_meta(KEYRING)
    if config_text is None or text is None:
        raise ConfigError("the database holds no seal configuration yet")
    config = json.loads(config_text)
    if config.get("mode") != "shamir":
        raise ConfigError("not in Shamir mode")
    return config, text


def _combine(texts: Sequence[str], config: dict[str, Any]) -> bytes:
    checks = config["share_checks"]
    given = {}
    for text in texts:
        share = parse_share(text, checks)
        given[share.index] = share
    if len(given) < config["threshold"]:
        raise InvalidShare(f"need {config['threshold']} different shares")
    return combine(list(given.values())[: config["threshold"]])
