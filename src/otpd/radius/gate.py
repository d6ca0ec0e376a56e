"""RadiusGate: the RADIUS front-end's one door into otpd's core.

Every call the RADIUS code makes into the services (and the NAS port of the store) is in this
module, so re-pointing the RADIUS code at other services means changing this file only. Codes
go through `CredentialService.verify`, the very path of the HTTP APIs: one replay state and one
throttle budget for every protocol.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import replace
from typing import Protocol, cast

from otpd.core.access_service import AccessService
from otpd.core.context import ServiceContext
from otpd.core.credential_service import CredentialService
from otpd.core.errors import InvalidInput, NotFound, SecretCorrupted
from otpd.core.model import SYSTEM_TENANT, Outcome, Principal, Scope, SecretBytes
from otpd.core.nas import (
    CHALLENGE_SECONDS,
    NasClient,
    RadiusChallenge,
    check_overlaps,
    validate_group_label,
    validate_nas_name,
)
from otpd.core.ports import NasStore, Sealer

__all__ = ["GateRuntime", "RadiusGate", "gate_for", "new_nas_secret"]

_SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 32  # 32 of 62 symbols: 190 bits; typed into NAS forms, so no punctuation
STATE_BYTES = 18  # RFC 2865 §5.24 State; at least 16 random bytes
DEFAULT_DIGITS = 6


class GateRuntime(Protocol):
    """What the gate needs of a runtime (bootstrap.Runtime is one): two services, the clock
    and audit events, the sealer (for the NAS secrets) and the store, which implements NasStore
    beside its credential ports."""

    @property
    def access(self) -> AccessService: ...

    @property
    def credentials(self) -> CredentialService: ...

    @property
    def context(self) -> ServiceContext: ...

    @property
    def sealer(self) -> Sealer: ...

    @property
    def store(self) -> object: ...


def gate_for(runtime: GateRuntime) -> RadiusGate:
    """The gate over a runtime's services and store (the SQL and memory stores implement
    NasStore beside CredentialStore)."""
    return RadiusGate(
        runtime.access,
        runtime.credentials,
        runtime.context,
        runtime.sealer,
        cast(NasStore, runtime.store),
    )


def new_nas_secret() -> str:
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))


class RadiusGate:
    def __init__(
        self,
        access: AccessService,
        credentials: CredentialService,
        context: ServiceContext,
        sealer: Sealer,
        store: NasStore,
    ) -> None:
        self._access = access
        self._credentials = credentials
        self._context = context
        self._sealer = sealer
        self._store = store

    # --- administration (CLI) ------------------------------------------------------------
    def create_nas(self, nas: NasClient) -> tuple[NasClient, str]:
        """Store a new NAS with a random shared secret; the secret is returned once."""
        validate_nas_name(nas.name)
        if nas.tenant == SYSTEM_TENANT:
            raise InvalidInput("tenant", f"{SYSTEM_TENANT!r} holds no credentials to verify")
        self._access.get_tenant(nas.tenant)  # NotFound: no such tenant
        check_overlaps(nas, self._store.list_nas())
        secret = new_nas_secret()
        sealed = self._seal(nas, secret.encode("ascii"))
        created = replace(nas, sealed_secret=sealed, created_at=self._context.now())
        self._store.insert_nas(created)
        self._audit("nas create", "ok", nas.tenant, nas.name)
        return created, secret

    def update_nas(self, nas: NasClient, *, new_secret: bool = False) -> tuple[NasClient, str]:
        """Replace a NAS's settings (and with new_secret its secret, returned once)."""
        check_overlaps(nas, self._store.list_nas())
        secret = ""
        if new_secret:
            secret = new_nas_secret()
            nas = replace(nas, sealed_secret=self._seal(nas, secret.encode("ascii")))
        if not self._store.replace_nas(nas):
            raise NotFound("no such NAS")
        self._audit("nas update", "ok new-secret" if new_secret else "ok", nas.tenant, nas.name)
        return nas, secret

    def get_nas(self, tenant: str, name: str) -> NasClient:
        for nas in self._store.list_nas(tenant):
            if nas.name == name:
                return nas
        raise NotFound("no such NAS")

    def list_nas(self, tenant: str | None = None) -> list[NasClient]:
        return self._store.list_nas(tenant)

    def delete_nas(self, tenant: str, name: str) -> None:
        if not self._store.delete_nas(tenant, name):
            raise NotFound("no such NAS")
        self._audit("nas delete", "ok", tenant, name)

    def set_group(self, tenant: str, credential: str, label: str | None) -> None:
        if label is not None:
            validate_group_label(label)
        if not self._store.set_radius_group(tenant, credential, label):
            raise NotFound("no such credential")
        self._audit("nas group", "ok" if label is not None else "ok cleared", tenant, credential)

    # --- serving -------------------------------------------------------------------------
    def is_sealed(self) -> bool:
        return self._sealer.is_sealed()

    def load_nas(self) -> list[tuple[NasClient, bytes]]:
        """Every NAS with its opened secret (raises Sealed). A NAS whose secret does not open
        (SecretCorrupted) is left out: its packets then go unanswered, like an unknown one."""
        opened = []
        for nas in self._store.list_nas():
            try:
                secret = self._sealer.open_secret(
                    nas.sealed_secret, tenant=nas.secret_context(), credential_id=0
                )
            except SecretCorrupted:
                continue
            opened.append((nas, secret.reveal()))
        return opened

    def mark_message_authenticator(self, nas: NasClient) -> None:
        self._store.mark_nas_message_authenticator(nas.tenant, nas.name)

    def verify(self, nas: NasClient, user: str, code: str) -> Outcome:
        """The HTTP APIs' verification: same replay state, same throttle budget."""
        return self._credentials.verify(_principal(nas), user, code).outcome

    def code_digits(self, nas: NasClient, user: str) -> int:
        """How many trailing characters of a password+otp User-Password are the code."""
        try:
            return self._credentials.get_credential(_principal(nas), user).params.digits
        except (NotFound, InvalidInput):
            return DEFAULT_DIGITS  # verified (and rejected) like any unknown name

    def group_of(self, nas: NasClient, user: str) -> str | None:
        return self._store.get_radius_group(nas.tenant, user)

    def start_challenge(self, nas: NasClient, user: str) -> bytes:
        """A fresh State for an Access-Challenge, kept in the database (single use, 120 s)."""
        state = secrets.token_bytes(STATE_BYTES)
        expires = self._context.now_us() + CHALLENGE_SECONDS * 1_000_000
        challenge = RadiusChallenge(_state_hash(state), nas.tenant, nas.name, user, expires)
        self._store.insert_radius_challenge(challenge)
        return state

    def take_challenge(self, nas: NasClient, state: bytes, user: str) -> bool:
        """True if `state` is a live challenge of this tenant, NAS and user; used up either way."""
        now_us = self._context.now_us()
        found = self._store.take_radius_challenge(_state_hash(state), now_us)
        return found is not None and (found.tenant, found.nas, found.user) == (
            nas.tenant,
            nas.name,
            user,
        )

    def sweep(self) -> int:
        return self._store.delete_expired_radius_challenges(self._context.now_us())

    # --- helpers -------------------------------------------------------------------------
    def _audit(self, action: str, outcome: str, tenant: str, target: str) -> None:
        """A NAS change in the audit trail, like a client change: names only, never the
        shared secret (docs/operations.md#audit-trail). The caller is the CLI's user."""
        self._context.emit(action, outcome, tenant=tenant, target=target)

    def _seal(self, nas: NasClient, secret: bytes) -> bytes:
        return self._sealer.seal_secret(
            SecretBytes(secret), tenant=nas.secret_context(), credential_id=0
        )


def _principal(nas: NasClient) -> Principal:
    # Read only to learn a credential's digits (password+otp); never shown to the NAS.
    scopes = frozenset({Scope.VERIFY, Scope.READ})
    return Principal(tenant=nas.tenant, client=f"radius:{nas.name}", scopes=scopes)


def _state_hash(state: bytes) -> str:
    return hashlib.sha256(state).hexdigest()
