"""Fakes honouring the core.ports Protocols, and an independent TOTP to check codes against.

Shared by the core tests, the vendor unit tests and bench/ (which imports FakeClock from here),
so this module needs nothing but the standard library and otpd itself (no pytest).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import struct

from otpd.bootstrap import Services
from otpd.core.errors import InvalidShare, Sealed, SecretCorrupted
from otpd.core.model import (
    CredentialRecord,
    CredentialSpec,
    OtpParams,
    Principal,
    Scope,
    SealStatus,
    SecretBytes,
)
from otpd.core.ports import CredentialStore

TIME_ZONES = ("UTC", "America/St_Johns")  # St. John's: UTC-3:30 with DST, a non-whole offset
START = 1_699_999_990  # 2023-11-14T22:13:10Z: ten seconds into a 30 s step

ALL_SCOPES = frozenset({Scope.READ, Scope.WRITE, Scope.VERIFY, Scope.CODE, Scope.REVEAL})
SEED = b"12345678901234567890"  # RFC 6238 Appendix B's SHA-1 seed


# --- an independent HOTP/TOTP written from RFC 4226 §5.3, not from otpd.core.otp -----------


def ref_hotp(key: bytes, counter: int, digits: int = 6, algorithm: str = "sha1") -> str:
    mac = hmac.new(key, struct.pack(">Q", counter), getattr(hashlib, algorithm)).digest()
    offset = mac[len(mac) - 1] % 16
    (value,) = struct.unpack(">I", mac[offset : offset + 4])
    return format((value & 0x7FFFFFFF) % 10**digits, f"0{digits}d")


def ref_totp(
    key: bytes, unix_time: int, period: int = 30, digits: int = 6, algorithm: str = "sha1"
) -> str:
    return ref_hotp(key, unix_time // period, digits, algorithm)


# --- fakes honouring the core.ports Protocols --------------------------------------------


class FakeClock:
    """core.ports.Clock with a hand on the dial."""

    def __init__(self, seconds: int = START) -> None:
        self.us = seconds * 1_000_000

    def now_us(self) -> int:
        return self.us

    @property
    def seconds(self) -> int:
        return self.us // 1_000_000

    @property
    def now_s(self) -> int:
        """The same as `seconds`: the name bench/ reads."""
        return self.seconds

    def set(self, seconds: int) -> None:
        self.us = seconds * 1_000_000

    def advance(self, seconds: int) -> None:
        self.us += seconds * 1_000_000


class FakeSealer:
    """core.ports.Sealer: XOR with a per-(nonce, tenant, id) pad plus a MAC tag bound to the row.

    Not encryption worth the name, but it behaves like the real one: a fresh random nonce per
    call (so sealing one secret twice gives two blobs, as with AES-GCM), a blob moved to another
    row or tenant fails with SecretCorrupted, and while `sealed` every operation raises Sealed.
    """

    SHARE = "fake-share"
    NONCE = 12
    TAG = 16

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self.sealed = False
        self.opened = 0  # how many secrets were unsealed: lets tests see work was skipped

    def _pad(self, nonce: bytes, tenant: str, credential_id: int, length: int) -> bytes:
        shake = hashlib.shake_256(self._key + nonce + f"|{tenant}|{credential_id}".encode())
        return shake.digest(length)

    def _tag(self, tenant: str, credential_id: int, nonce_and_body: bytes) -> bytes:
        msg = f"tag|{tenant}|{credential_id}|".encode() + nonce_and_body
        return hmac.new(self._key, msg, hashlib.sha256).digest()[: self.TAG]

    def is_sealed(self) -> bool:
        return self.sealed

    def seal_secret(self, secret: SecretBytes, *, tenant: str, credential_id: int) -> bytes:
        if self.sealed:
            raise Sealed()
        raw = secret.reveal()
        nonce = secrets.token_bytes(self.NONCE)
        pad = self._pad(nonce, tenant, credential_id, len(raw))
        blob = nonce + bytes(a ^ b for a, b in zip(raw, pad, strict=True))
        return blob + self._tag(tenant, credential_id, blob)

    def open_secret(self, blob: bytes, *, tenant: str, credential_id: int) -> SecretBytes:
        if self.sealed:
            raise Sealed()
        head, tag = blob[: -self.TAG], blob[-self.TAG :]
        if len(blob) < self.NONCE + self.TAG or not hmac.compare_digest(
            tag, self._tag(tenant, credential_id, head)
        ):
            raise SecretCorrupted("tag mismatch")
        self.opened += 1
        nonce, body = head[: self.NONCE], head[self.NONCE :]
        pad = self._pad(nonce, tenant, credential_id, len(body))
        return SecretBytes(bytes(a ^ b for a, b in zip(body, pad, strict=True)))

    def status(self) -> SealStatus:
        return SealStatus(sealed=self.sealed, progress=0, threshold=1, mode="shamir")

    def submit_share(self, share: str) -> SealStatus:
        if share != self.SHARE:
            raise InvalidShare("foreign share")
        self.sealed = False
        return self.status()

    def reset_progress(self, nonce: str) -> SealStatus:
        return self.status()

    def seal(self) -> None:
        self.sealed = True


def principal(services: Services, tenant: str, scopes: frozenset[Scope] = ALL_SCOPES) -> Principal:
    """A principal the way adapters get one: create a client, authenticate with its key."""
    name = "c" + secrets.token_hex(6)
    _, key = services.access.create_client(tenant, name, scopes)
    return services.access.authenticate(key)


# --- credentials of the core tests: made through the service, codes from the reference ------


def enrol(
    services: Services,
    who: Principal,
    name: str = "bob",
    secret: bytes = SEED,
    params: OtpParams | None = None,
) -> CredentialRecord:
    spec = CredentialSpec(name=name, params=params or OtpParams())
    record, _ = services.credentials.create_credential(who, spec, SecretBytes(secret))
    return record


def code(
    clock: FakeClock, secret: bytes = SEED, steps: int = 0, params: OtpParams | None = None
) -> str:
    """The code for `steps` periods from the clock's now, from the independent reference."""
    p = params or OtpParams()
    return ref_totp(secret, clock.seconds + steps * p.period, p.period, p.digits, p.algorithm.value)


def wrong(clock: FakeClock, secret: bytes = SEED) -> str:
    near = {code(clock, secret, k) for k in range(-3, 4)}
    return next(c for c in (f"{i:06d}" for i in range(100)) if c not in near)


def stored(store: CredentialStore, tenant: str, name: str = "bob") -> CredentialRecord:
    record = store.get_credential(tenant, name)
    assert record is not None
    return record
