"""`otpd export`: a tenant's credentials as encrypted PSKC or, when asked for in so many words,
plaintext otpauth URIs (docs/migrate.md).

PSKC follows RFC 6030 §6.2: a PBKDF2-derived key (600,000 iterations of HMAC-SHA256, the
OWASP 2023 figure for PBKDF2-SHA256), AES-256-CBC for the secrets and HMAC-SHA256 over each
ciphertext. The account part of each key is the credential name, so a re-import gives the
same names; <Counter> holds the last accepted time step, as privacyIDEA writes it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from otpd.core.errors import InvalidInput
from otpd.core.model import CredentialRecord, SecretBytes
from otpd.core.provisioning import build_uri

__all__ = ["PBKDF2_ITERATIONS", "to_otpauth", "to_pskc", "to_pskc_privacyidea"]

PBKDF2_ITERATIONS = 600_000
_TOTP = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
MIN_PASSWORD = 12
_PRF = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"


def to_pskc(items: Sequence[tuple[CredentialRecord, SecretBytes]], password: str) -> bytes:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("key-file", f"the password must have at least {MIN_PASSWORD} characters")
    container = _container(items, suite_prefix="HMAC-")
    container.encryption.setup_pbkdf2(
        password,
        algorithm="aes256-cbc",
        iterations=PBKDF2_ITERATIONS,
        prf="hmac-sha256",
    )
    container.mac.setup(algorithm="hmac-sha256")
    out = io.BytesIO()
    container.write(out)
    return _fix_prf(out.getvalue())


def to_pskc_privacyidea(
    items: Sequence[tuple[CredentialRecord, SecretBytes]], key_hex: str
) -> bytes:
    """The profile privacyIDEA 3.14 reads (privacyidea/lib/importotp.py, parsePSKCdata, and
    `pi-tokenjanitor import pskc --preshared_key`): a 16-byte pre-shared key, AES-128-CBC,
    HMAC-SHA1, the hash as lower-case <Suite> text and the name as the device serial."""
    try:
        key = bytes.fromhex(key_hex.strip())
    except ValueError:
        raise InvalidInput("key-file", "must hold the 16-byte pre-shared key in hex") from None
    if len(key) != 16:
        raise InvalidInput("key-file", "must hold the 16-byte pre-shared key in hex")
    container = _container(items, suite_prefix="", serials=True)
    container.encryption.setup_preshared_key(key=key, algorithm="aes128-cbc")
    container.mac.setup(algorithm="hmac-sha1")
    out = io.BytesIO()
    container.write(out)
    return out.getvalue()


def _container(
    items: Sequence[tuple[CredentialRecord, SecretBytes]],
    *,
    suite_prefix: str,
    serials: bool = False,
) -> Any:
    from pskc import PSKC  # optional extra `migrate`

    container = PSKC()
    for record, secret in items:
        params = record.params
        key = container.add_key(
            id=str(record.id),
            algorithm=_TOTP,
            issuer=record.issuer,
            key_userid=record.name,
            algorithm_suite=suite_prefix + params.algorithm.value.upper()
            if suite_prefix
            else params.algorithm.value,
            response_encoding="DECIMAL",
            response_length=params.digits,
            time_interval=params.period,
            time_offset=0,
        )
        key.secret = secret.reveal()
        if record.last_step >= 0:
            key.counter = record.last_step
        if serials:
            key.serial = record.name
    return container


def _fix_prf(document: bytes) -> bytes:
    """python-pskc 1.4 writes <PRF>uri</PRF> but reads (as XML Encryption 1.1 §5.4.2 defines
    it) <PRF Algorithm="uri"/>; write the standard form so every reader gets HMAC-SHA256."""
    text = f"<PRF>{_PRF}</PRF>".encode()
    if document.count(text) != 1:
        raise RuntimeError("unexpected PSKC serialisation")
    return document.replace(text, f'<PRF Algorithm="{_PRF}"/>'.encode())


def to_otpauth(items: Sequence[tuple[CredentialRecord, SecretBytes]]) -> bytes:
    lines = [
        build_uri(
            secret=secret,
            label_prefix=record.issuer,
            account_name=record.name,
            issuer=record.issuer,
            params=record.params,
        )
        for record, secret in items
    ]
    return "".join(line + "\n" for line in lines).encode()
