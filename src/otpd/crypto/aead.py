"""AES-256-GCM for secrets at rest and for the keyring (docs/requirements.md#encrypted-at-rest,
docs/requirements.md#key-hierarchy; docs/requirements.md#encrypted-at-rest).

A secret blob is `format (1) | key version (4, big-endian) | nonce (12) | ciphertext || tag (16)`.
The associated data binds it to its tenant and credential id, and repeats the header, so a blob
copied to another row, or with a rewritten header, fails authentication instead of
giving a wrong secret.

The keyring holds every data key ever made, each wrapped by the seal key with associated data
naming its purpose and version: blobs name the version that sealed them, so old ciphertexts stay
readable after a new data key becomes active (docs/requirements.md#key-hierarchy).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from otpd.core.errors import ConfigError, SecretCorrupted

__all__ = [
    "FORMAT_TENANT",
    "FORMAT_V1",
    "KEY_BYTES",
    "Keyring",
    "KeyringMismatch",
    "blob_header",
    "new_keyring",
    "open_blob",
    "open_keyring",
    "open_with",
    "rewrap_keyring",
    "seal_blob",
    "seal_with",
    "tenant_kek",
    "unwrap_tenant_key",
    "wrap_tenant_key",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit random nonces: the GCM default; a data key seals far below 2^32 blobs
TAG_BYTES = 16
FORMAT_V1 = 1  # sealed by a keyring data key (before per-tenant keys)
FORMAT_TENANT = 2  # sealed by the owning tenant's data key, `key version` is its version
_HEADER = struct.Struct(">BI")  # format byte, key version
_MIN_BLOB = _HEADER.size + NONCE_BYTES + TAG_BYTES
_SECRET_AAD = b"otpd/secret/v1\x00"
_WRAP_AAD = b"otpd/keyring/v1/data-key\x00"
_TENANT_WRAP_AAD = b"otpd/tenant-key/v1\x00"
_KEK_INFO = b"otpd/tenant-key-wrapping/v1"
_MAX_ID = 2**64 - 1

# A keyring: key version -> data key, plus the version new secrets are sealed with.
Keyring = tuple[int, dict[int, bytes]]


class KeyringMismatch(Exception):
    """The seal key does not open the keyring: a wrong key file or wrong shares."""


def _secret_aad(header: bytes, tenant: str, credential_id: int) -> bytes:
    if not 0 <= credential_id <= _MAX_ID:
        raise ValueError("credential id out of range")
    name = tenant.encode("utf-8")
    # Length-prefixed tenant and fixed-width id: no two (tenant, id) pairs share an encoding.
    return (
        _SECRET_AAD
        + header
        + struct.pack(">H", len(name))
        + name
        + struct.pack(">Q", credential_id)
    )


def seal_blob(keyring: Keyring, plaintext: bytes, tenant: str, credential_id: int) -> bytes:
    version, keys = keyring
    header = _HEADER.pack(FORMAT_V1, version)
    nonce = os.urandom(NONCE_BYTES)
    aad = _secret_aad(header, tenant, credential_id)
    return header + nonce + AESGCM(keys[version]).encrypt(nonce, plaintext, aad)


def open_blob(keyring: Keyring, blob: bytes, tenant: str, credential_id: int) -> bytes:
    """The plaintext, or SecretCorrupted: never a secret from a blob that fails authentication."""
    fmt, version = blob_header(blob)
    key = keyring[1].get(version)
    if fmt != FORMAT_V1 or key is None:
        raise SecretCorrupted("stored secret has an unknown format or key version")
    return open_with(key, blob, tenant, credential_id)


def blob_header(blob: bytes) -> tuple[int, int]:
    """(format, key version) of a sealed blob: the row's record of the key that sealed it."""
    if len(blob) < _MIN_BLOB:
        raise SecretCorrupted("stored secret is truncated")
    fmt, version = _HEADER.unpack(blob[: _HEADER.size])
    return int(fmt), int(version)


def seal_with(
    key: bytes, fmt: int, version: int, plaintext: bytes, tenant: str, ident: int
) -> bytes:
    header = _HEADER.pack(fmt, version)
    nonce = os.urandom(NONCE_BYTES)
    aad = _secret_aad(header, tenant, ident)
    return header + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_with(key: bytes, blob: bytes, tenant: str, credential_id: int) -> bytes:
    """Open a blob whose header was already checked by the caller (blob_header)."""
    header = blob[: _HEADER.size]
    nonce = blob[_HEADER.size : _HEADER.size + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(
            nonce, blob[_HEADER.size + NONCE_BYTES :], _secret_aad(header, tenant, credential_id)
        )
    except InvalidTag:
        raise SecretCorrupted("stored secret failed authentication") from None


def _wrap(seal_key: bytes, version: int, data_key: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    aad = _WRAP_AAD + struct.pack(">I", version)
    return base64.b64encode(nonce + AESGCM(seal_key).encrypt(nonce, data_key, aad)).decode()


def _unwrap(seal_key: bytes, version: int, wrapped: str) -> bytes:
    raw = base64.b64decode(wrapped, validate=True)
    aad = _WRAP_AAD + struct.pack(">I", version)
    key = AESGCM(seal_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
    if len(key) != KEY_BYTES:
        raise ConfigError("the keyring in the database holds a data key of the wrong size")
    return key


def tenant_kek(keyring: Keyring) -> bytes:
    """The key that wraps tenant data keys, derived from the keyring's root (its lowest version,
    which never changes): a rekey re-wraps the keyring only, so this stays the same and a running
    node keeps opening new tenant key versions (docs/operations.md#keys). HKDF
    (RFC 5869) keeps it apart from the root's own use for format-1 blobs."""
    root = keyring[1][min(keyring[1])]
    return HKDF(hashes.SHA256(), KEY_BYTES, salt=None, info=_KEK_INFO).derive(root)


def _tenant_aad(tenant: str, version: int) -> bytes:
    name = tenant.encode("utf-8")
    return _TENANT_WRAP_AAD + struct.pack(">H", len(name)) + name + struct.pack(">I", version)


def wrap_tenant_key(kek: bytes, tenant: str, version: int, key: bytes) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(kek).encrypt(nonce, key, _tenant_aad(tenant, version))
    return base64.b64encode(nonce + sealed).decode()


def unwrap_tenant_key(kek: bytes, tenant: str, version: int, wrapped: str) -> bytes:
    """The tenant's data key; ConfigError when the row is not one this keyring wrapped."""
    try:
        raw = base64.b64decode(wrapped, validate=True)
        key = AESGCM(kek).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], _tenant_aad(tenant, version)
        )
    except (InvalidTag, ValueError, binascii.Error):
        raise ConfigError("a tenant key in the database does not open with this keyring") from None
    if len(key) != KEY_BYTES:
        raise ConfigError("a tenant key in the database has the wrong size")
    return key


def rewrap_keyring(old_seal_key: bytes, new_seal_key: bytes, text: str) -> str:
    """The same keyring (same data keys, same versions) wrapped by a new seal key: a rekey."""
    active, keys = open_keyring(old_seal_key, text)
    wrapped = {str(v): _wrap(new_seal_key, v, k) for v, k in keys.items()}
    return json.dumps({"v": 1, "active": active, "keys": wrapped}, sort_keys=True)


def new_keyring(seal_key: bytes) -> str:
    """A fresh keyring with one random data key (version 1), as the JSON stored in meta."""
    data = {"v": 1, "active": 1, "keys": {"1": _wrap(seal_key, 1, os.urandom(KEY_BYTES))}}
    return json.dumps(data, sort_keys=True)


def open_keyring(seal_key: bytes, text: str) -> Keyring:
    """Unwrap every data key. KeyringMismatch when the seal key is wrong; ConfigError when the
    stored keyring is not one otpd wrote."""
    try:
        data = json.loads(text)
        active = data["active"]
        wrapped = {int(v): w for v, w in data["keys"].items()}
        if data["v"] != 1 or type(active) is not int or active not in wrapped:
            raise ValueError("unknown keyring layout")
        return active, {v: _unwrap(seal_key, v, w) for v, w in wrapped.items()}
    except InvalidTag:
        raise KeyringMismatch from None
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        raise ConfigError("the keyring stored in the database is unreadable") from None
