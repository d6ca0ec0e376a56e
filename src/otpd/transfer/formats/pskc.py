"""RFC 6030 PSKC files through python-pskc: plain, pre-shared key (the key file holds the key
in hex) and PBKDF2 (the key file holds the password). A wrong key or password fails the whole
file: python-pskc checks the MAC of every encrypted value (RFC 6030 §6.1.1).

privacyIDEA exports the last accepted time step of a TOTP token in <Counter> and its clock
drift in seconds in <TimeDrift> (privacyidea/lib/importotp.py, export_pskc); RFC 6030 §4.3.4
has TimeDrift in time intervals, so the privacyIDEA issuer decides the unit.
"""

from __future__ import annotations

import binascii
import io
from collections.abc import Iterator
from typing import Any

from otpd.core.model import SecretBytes
from otpd.transfer.formats.pskc_case import restore_case
from otpd.transfer.formats.records import (
    FormatError,
    ImportRecord,
    ParseOptions,
    Row,
    RowError,
)

__all__ = ["parse"]

_URN = "urn:ietf:params:xml:ns:keyprov:pskc:"
_SUITES = ("sha1", "sha224", "sha256", "sha384", "sha512", "md5")


def parse(data: bytes, options: ParseOptions) -> Iterator[Row]:
    from pskc import PSKC  # optional extra `migrate`: imported only when this format is used
    from pskc.exceptions import PSKCError

    data = restore_case(data)
    try:
        container = PSKC(io.BytesIO(data))
        _unlock(container, options.key)
        keys = list(container.keys)
        for key in keys:  # decrypt and MAC-check everything before yielding anything
            key.check()
    except FormatError:
        raise
    except PSKCError as error:
        raise FormatError(_explain(error)) from None
    except (ValueError, TypeError):
        raise FormatError("the file is not a PSKC document") from None
    suites = _suite_attributes(data) if b"hashalgo" in data else {}
    for row, key in enumerate(keys, 1):
        yield _record(key, row, suites.get(key.id or ""))


def _suite_attributes(data: bytes) -> dict[str, str]:
    """privacyIDEA writes the hash as <Suite hashalgo="sha256"/> (an attribute python-pskc
    does not read): Key Id -> hash. Read with the standard library's expat, which refuses
    entity expansion attacks since expat 2.4.1."""
    from xml.etree import ElementTree

    ns = "{urn:ietf:params:xml:ns:keyprov:pskc}"
    try:
        root = ElementTree.fromstring(data)  # noqa: S314 (already parsed by python-pskc)
    except ElementTree.ParseError:
        return {}
    found: dict[str, str] = {}
    for key in root.iter(ns + "Key"):
        suite = key.find(f"{ns}AlgorithmParameters/{ns}Suite")
        if suite is not None and suite.get("hashalgo"):
            found[key.get("Id") or ""] = str(suite.get("hashalgo"))
    return found


def _unlock(container: Any, key_file: bytes | None) -> None:
    encryption = container.encryption
    if not encryption.is_encrypted:
        return
    if key_file is None:
        raise FormatError("the PSKC file is encrypted: pass --key-file")
    if encryption.derivation.algorithm:
        encryption.derive_key(key_file.decode("utf-8", "strict").strip("\r\n"))
        return
    try:
        encryption.key = binascii.unhexlify(key_file.strip())
    except (binascii.Error, ValueError):
        raise FormatError("the pre-shared key in --key-file must be hex") from None


def _explain(error: Exception) -> str:
    name = type(error).__name__
    if name in ("DecryptionError", "KeyDerivationError"):
        return "cannot decrypt the PSKC file: wrong key or password, or a damaged file"
    return "the file is not a valid PSKC document"


def _record(key: Any, row: int, hashalgo: str | None = None) -> Row:
    issuer = key.issuer or ""
    account = key.userid or key.serial or key.id or ""
    label = f"{issuer}:{account}" if issuer else account
    algorithm = (key.algorithm or "").removeprefix(_URN).lower()
    if algorithm not in ("totp", "hotp"):
        return RowError(row, label, "only TOTP and HOTP keys can be imported")
    if not key.secret:
        return RowError(row, label, "the key has no secret")
    suite = (key.algorithm_suite or hashalgo or "sha1").lower()
    suite = suite.replace("hmac-", "").replace("-", "")
    if suite not in _SUITES:
        return RowError(row, label, "unknown hash algorithm")
    totp = algorithm == "totp"
    drift = int(key.time_drift or 0)
    period = int(key.time_interval or 30)
    if issuer != "privacyIDEA":
        drift *= period  # RFC 6030: intervals; privacyIDEA: seconds
    return ImportRecord(
        row=row,
        issuer=issuer,
        account=account,
        secret=SecretBytes(bytes(key.secret)),
        algorithm=suite,
        digits=int(key.response_length or 6),
        period=period,
        t0=int(key.time_offset or 0),
        last_step=key.counter if totp and key.counter is not None else None,
        drift=drift if totp else 0,
        kind=algorithm,
        counter=None if totp else int(key.counter or 0),
        serial=key.serial or "",
    )
