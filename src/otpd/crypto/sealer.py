"""SealManager: the otpd.core.ports.Sealer of a node, and its unseal/seal operations.

Sealed means the data keys are not in this process's memory (docs/requirements.md#encrypted-at-rest,
docs/requirements.md#sealed): sealing and opening secrets raise Sealed. The node state (node.py)
decides sealed/unsealed for every worker of the node; each call looks at it first with one os.stat,
so a seal done by a sibling worker takes effect here before the next secret is opened. SealStatus is
core's own type (otpd.core.model), re-exported here, so the Sealer Protocol and this class agree.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Sequence

from otpd.core.errors import InvalidShare, Sealed, SecretCorrupted
from otpd.core.model import TENANT_ID, SealStatus, SecretBytes
from otpd.crypto.aead import (
    FORMAT_TENANT,
    FORMAT_V1,
    Keyring,
    KeyringMismatch,
    blob_header,
    open_blob,
    open_keyring,
    open_with,
    seal_blob,
    seal_with,
    tenant_kek,
)
from otpd.crypto.node import NodeState, StateStore
from otpd.crypto.shamir import Share, combine, parse_share
from otpd.crypto.tenant_keys import KeyRows, TenantKeys, key_owner

# Reads the Shamir seal configuration again: (keyring text, threshold, share checks).
ConfigLoader = Callable[[], tuple[str, int, tuple[str, ...]]]

__all__ = ["EMBEDDED", "SHAMIR", "SealManager", "SealStatus"]

EMBEDDED = "embedded"
SHAMIR = "shamir"


class SealManager:
    """Implements otpd.core.ports.Sealer. Build it with open_seal(), not directly."""

    def __init__(
        self,
        *,
        mode: str,
        state: StateStore,
        keyring_text: str,
        keyring: Keyring | None = None,
        threshold: int = 0,
        share_checks: Sequence[str] = (),
        key_rows: KeyRows | None = None,
        reload: ConfigLoader | None = None,
    ) -> None:
        self.mode = mode
        self._key_rows = key_rows  # None: every secret under the keyring (format 1)
        self._reload = reload
        self._tenant_keys: tuple[Keyring, TenantKeys] | None = None
        self._state = state
        self._keyring_text = keyring_text  # wrapped data keys: harmless without the seal key
        self._threshold = threshold
        self._checks = tuple(share_checks)
        self._lock = threading.Lock()
        self._keyring = keyring  # embedded: opened from the key file; Shamir: None until unsealed
        self._progress = 0
        self._nonce = ""
        with self._lock:
            self._apply(state.load())

    def __repr__(self) -> str:
        return f"SealManager(mode={self.mode!r}, sealed={self._keyring is None})"

    # --- otpd.core.ports.Sealer ----------------------------------------------------------
    def is_sealed(self) -> bool:
        return self._keys() is None

    def seal_secret(self, secret: SecretBytes, *, tenant: str, credential_id: int) -> bytes:
        keyring = self._keys()
        if keyring is None:
            raise Sealed()
        owner = key_owner(tenant)
        if self._key_rows is None or not TENANT_ID.fullmatch(owner):
            # No tenant (the timing dummy of core.verification): the keyring key, as before #14.
            return seal_blob(keyring, secret.reveal(), tenant, credential_id)
        version, key = self._tenant_keyring(keyring).active(owner)
        return seal_with(key, FORMAT_TENANT, version, secret.reveal(), tenant, credential_id)

    def open_secret(self, blob: bytes, *, tenant: str, credential_id: int) -> SecretBytes:
        keyring = self._keys()
        if keyring is None:
            raise Sealed()
        fmt, version = blob_header(blob)
        if fmt == FORMAT_V1:
            return SecretBytes(open_blob(keyring, blob, tenant, credential_id))
        if fmt != FORMAT_TENANT or self._key_rows is None:
            raise SecretCorrupted("stored secret has an unknown format or key version")
        key = self._tenant_keyring(keyring).key(key_owner(tenant), version)
        return SecretBytes(open_with(key, blob, tenant, credential_id))

    def tenant_keys(self) -> TenantKeys:
        """The tenant keys of this node (rotation, re-encryption); Sealed while sealed."""
        keyring = self._keys()
        if keyring is None or self._key_rows is None:
            raise Sealed()
        return self._tenant_keyring(keyring)

    def _tenant_keyring(self, keyring: Keyring) -> TenantKeys:
        held = self._tenant_keys
        if held is None or held[0] is not keyring:
            assert self._key_rows is not None
            held = (keyring, TenantKeys(self._key_rows, tenant_kek(keyring)))
            self._tenant_keys = held
        return held[1]

    # --- unseal and seal -----------------------------------------------------------------
    def status(self) -> SealStatus:
        sealed = self.is_sealed()
        if self.mode == EMBEDDED:
            return SealStatus(sealed=sealed, progress=0, threshold=0, mode=self.mode)
        if not sealed:
            return SealStatus(sealed, 0, self._threshold, self.mode)
        return SealStatus(sealed, self._progress, self._threshold, self.mode, self._nonce)

    def unseal_with(self, lines: Iterable[str]) -> bool:
        """For a one-shot command in Shamir mode (import, export, nas): take shares, one a line,
        until unsealed; the key opens in this process only and the shares are not kept. True
        when unsealed (at once if it already was)."""
        for line in lines:
            if not self.is_sealed():
                break
            if line.strip():
                self.submit_share(line.strip())
        return not self.is_sealed()

    def submit_share(self, share: str) -> SealStatus:
        """Add one Shamir share (docs/requirements.md#shamir). InvalidShare for a malformed, foreign
        or repeated share; such a share does not count."""
        if self.mode != SHAMIR:
            raise InvalidShare("not in shamir mode")
        if self._progress == 0:
            self._refresh_config()  # a rekey since start changed the shares (docs/operations.md)
        given = parse_share(share, self._checks)
        opened: list[Keyring] = []
        poisoned: list[bool] = []

        def add(state: NodeState) -> NodeState:
            if self._unsealed(state):
                return state  # as Vault: a share given to an unsealed node changes nothing
            if any(s.index == given.index for s in state.shares):
                raise InvalidShare("share already given")
            shares = (*state.shares, given)
            # The first share of a ceremony draws its nonce (Vault's unseal nonce).
            nonce = state.nonce if state.shares else secrets.token_hex(16)
            if len(shares) < self._threshold:
                return NodeState(state.sealed, shares, nonce=nonce)
            keyring = self._open(shares)
            if keyring is None:
                # Every share matched its check, yet the key is wrong: the seal configuration
                # and keyring disagree. Start over rather than keep a poisoned set.
                poisoned.append(True)
                return NodeState(True, ())
            opened.append(keyring)
            return NodeState(False, shares)

        with self._lock:
            state = self._update(add)
            if opened:
                self._keyring = opened[0]
            self._apply(state)
        if poisoned:
            raise InvalidShare("the shares do not open this server's keyring")
        return self.status()

    def reset_progress(self, nonce: str) -> SealStatus:
        """Discard the shares given so far (Vault sys/unseal reset). Only with the ceremony's
        nonce, which only share holders were told: otherwise anyone who reaches the port could
        keep a ceremony from ever finishing. No ceremony in progress: nothing to do."""

        def reset(state: NodeState) -> NodeState:
            if self.mode != SHAMIR or self._unsealed(state) or not state.shares:
                return state
            given_nonce = nonce.encode("utf-8", "surrogatepass")
            if not hmac.compare_digest(given_nonce, state.nonce.encode("ascii")):
                raise InvalidShare("reset needs the nonce of the unseal in progress")
            return NodeState(state.sealed, ())

        with self._lock:
            self._apply(self._update(reset))
        return self.status()

    def seal(self) -> None:
        """Forget the keys in every worker of this node (docs/requirements.md#shamir). Embedded mode
        stays sealed until the server restarts; Shamir mode until the threshold of shares is given
        again."""
        with self._lock:
            self._keyring = None
            self._apply(self._state.update(lambda _old: NodeState(True, ())))

    # --- internals -----------------------------------------------------------------------
    def _update(self, change: Callable[[NodeState], NodeState]) -> NodeState:
        """StateStore.update, call with self._lock held. When `change` refuses (raises), the
        store has still read the newest state: apply it, or `changed()` would report nothing
        new and this worker would keep showing a sibling's older progress."""
        try:
            return self._state.update(change)
        except InvalidShare:
            self._apply(self._state.load())
            raise

    def _keys(self) -> Keyring | None:
        if self._state.changed():
            with self._lock:
                self._apply(self._state.load())
        return self._keyring

    def _unsealed(self, state: NodeState) -> bool:
        if self.mode == EMBEDDED:
            return not state.sealed
        return not state.sealed and len(state.shares) >= self._threshold

    def _apply(self, state: NodeState) -> None:
        """Make this process match the node state; call with self._lock held."""
        if not self._unsealed(state):
            self._keyring = None  # embedded: gone until restart, there is nothing to unseal with
            self._progress = len(state.shares)
            self._nonce = state.nonce if state.shares else ""
            return
        self._progress = 0
        self._nonce = ""
        if self._keyring is None and self.mode == SHAMIR:
            # A sibling worker reached the threshold: rebuild the key from the node's shares.
            self._keyring = self._open(state.shares)

    def _open(self, shares: Sequence[Share]) -> Keyring | None:
        for attempt in range(2):
            try:
                return open_keyring(combine(shares[: self._threshold]), self._keyring_text)
            except KeyringMismatch:
                if attempt or self._reload is None:
                    return None
                self._refresh_config()  # the shares may be from after a rekey
        return None

    def _refresh_config(self) -> None:
        if self._reload is not None:
            self._keyring_text, self._threshold, self._checks = self._reload()
