"""open_seal and init_shamir: find or create the key material of a database
(docs/requirements.md#encrypted-at-rest).

Two meta values live in the database, shared by every node: `seal_config` (the mode, and for
Shamir the share checks) and `keyring` (data keys wrapped by the seal key,
docs/requirements.md#key-hierarchy). The seal key itself is never stored there: it is in
`DATA_DIR/seal.key` (embedded) or in the shares (Shamir). Both writers put `seal_config` first with
put_meta_if_absent, so whoever wins it owns the keyring too, and two nodes starting on an empty
database agree on one keyring.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from otpd.core.errors import ConfigError
from otpd.core.ports import CredentialStore
from otpd.crypto.aead import KEY_BYTES, KeyringMismatch, new_keyring, open_keyring
from otpd.crypto.keyfile import KEY_FILE_NAME, create_key_file
from otpd.crypto.node import FileState, MemoryState, NodeSession, StateStore
from otpd.crypto.rekey import finish_rekey
from otpd.crypto.sealer import EMBEDDED, SHAMIR, SealManager
from otpd.crypto.shamir import MAX_SHARES, check_split, split
from otpd.crypto.tenant_keys import KeyRows

__all__ = ["init_shamir", "open_seal"]

SEAL_CONFIG = "seal_config"
KEYRING = "keyring"
_CHECK = re.compile(r"[0-9a-f]{64}")


def open_seal(
    data_dir: Path, store: CredentialStore, node: NodeSession | None = None
) -> SealManager:
    """The node's SealManager: unsealed from the key file in embedded mode (creating the key
    file and keyring on first use), sealed in Shamir mode unless this node's workers already
    unsealed it. With node=None (one-shot CLI commands) the seal state stays in memory."""
    state: StateStore = FileState(node) if node is not None else MemoryState()
    config = _load_config(store)
    if config is not None and config["mode"] == SHAMIR:
        return _shamir(store, config, state)
    key_path = data_dir / KEY_FILE_NAME
    keyring_text = store.get_meta(KEYRING)
    if keyring_text is not None:
        # Never create a key for an existing keyring; finish an interrupted `otpd rekey`.
        seal_key = finish_rekey(data_dir, keyring_text)
    else:
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # An existing key file is used as is: nodes of one deployment may share a copied key
        # file (docs/requirements.md#instances) when the first of them meets an empty database.
        seal_key = create_key_file(key_path)
        if config is None and not store.put_meta_if_absent(SEAL_CONFIG, _EMBEDDED_CONFIG):
            config = _load_config(store)  # lost the race: follow the winner's mode
            if config is not None and config["mode"] == SHAMIR:
                return _shamir(store, config, state)
        store.put_meta_if_absent(KEYRING, new_keyring(seal_key))
        keyring_text = store.get_meta(KEYRING)  # ours, or the one a concurrent start put first
        if keyring_text is None:
            raise ConfigError("the database did not keep the keyring just written")
    try:
        keyring = open_keyring(seal_key, keyring_text)
    except KeyringMismatch:
        raise ConfigError(
            f"seal key file {key_path} does not open the keyring in the database (wrong key file?)"
        ) from None
    return SealManager(
        mode=EMBEDDED,
        state=state,
        keyring_text=keyring_text,
        keyring=keyring,
        key_rows=_key_rows(store),
    )


def _key_rows(store: CredentialStore) -> KeyRows | None:
    """Stores with a tenant_key table (all of otpd's, issue #14) get per-tenant keys."""
    if not hasattr(store, "tenant_keys"):
        return None
    rows: KeyRows = store  # type: ignore[assignment]
    return rows


def init_shamir(
    data_dir: Path, store: CredentialStore, *, shares: int, threshold: int
) -> list[str]:
    """Initialise a fresh database in Shamir mode; return the shares, the only copy of the seal
    key (print them once). ConfigError if the database or data directory already has keys."""
    check_split(shares, threshold)
    if store.get_meta(KEYRING) is not None or store.get_meta(SEAL_CONFIG) is not None:
        raise ConfigError("the database is already initialised; otpd init needs a fresh one")
    if (data_dir / KEY_FILE_NAME).exists():
        raise ConfigError(f"{data_dir} holds an embedded seal key file; use a fresh data directory")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    seal_key = os.urandom(KEY_BYTES)
    parts = split(seal_key, shares, threshold)
    config = {
        "mode": SHAMIR,
        "shares": shares,
        "threshold": threshold,
        "share_checks": [p.check() for p in parts],
    }
    if not store.put_meta_if_absent(SEAL_CONFIG, json.dumps(config)):
        raise ConfigError("the database is already initialised; otpd init needs a fresh one")
    if not store.put_meta_if_absent(KEYRING, new_keyring(seal_key)):
        raise ConfigError("the database already holds a keyring; otpd init needs a fresh one")
    return [p.text() for p in parts]


_EMBEDDED_CONFIG = json.dumps({"mode": EMBEDDED})


def _shamir(store: CredentialStore, config: dict[str, Any], state: StateStore) -> SealManager:
    keyring_text = store.get_meta(KEYRING)
    if keyring_text is None:
        raise ConfigError("the Shamir seal configuration has no keyring (interrupted otpd init?)")

    def reload() -> tuple[str, int, tuple[str, ...]]:
        # After `otpd rekey` on a running node: the next unseal takes the new shares.
        fresh, text = _load_config(store), store.get_meta(KEYRING)
        if fresh is None or fresh["mode"] != SHAMIR or text is None:
            raise ConfigError("the seal configuration disappeared from the database")
        return text, fresh["threshold"], tuple(fresh["share_checks"])

    return SealManager(
        mode=SHAMIR,
        state=state,
        keyring_text=keyring_text,
        threshold=config["threshold"],
        share_checks=config["share_checks"],
        key_rows=_key_rows(store),
        reload=reload,
    )


def _load_config(store: CredentialStore) -> dict[str, Any] | None:
    text = store.get_meta(SEAL_CONFIG)
    if text is None:
        return None
    bad = ConfigError("the seal configuration stored in the database is unreadable")
    try:
        config = json.loads(text)
    except ValueError:
        raise bad from None
    if not isinstance(config, dict) or config.get("mode") not in (EMBEDDED, SHAMIR):
        raise bad
    if config["mode"] == SHAMIR:
        n, k, checks = config.get("shares"), config.get("threshold"), config.get("share_checks")
        if type(n) is not int or type(k) is not int or not 1 <= k <= n <= MAX_SHARES:
            raise bad
        if not isinstance(checks, list) or len(checks) != n:
            raise bad
        if not all(isinstance(c, str) and _CHECK.fullmatch(c) for c in checks):
            raise bad
    return config
