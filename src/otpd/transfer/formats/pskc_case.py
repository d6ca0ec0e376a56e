"""privacyIDEA writes its PSKC export through BeautifulSoup's HTML parser, which lowercases
every element and attribute name (privacyidea/lib/importotp.py, export_pskc). XML names are
case-sensitive, so restore the RFC 6030 / XML Encryption / XML Signature spelling before an
XML reader sees the file. It also writes its timeShift as a float ("-16.0") into the integer
<TimeDrift>. Only a document whose root is a lowercase <keycontainer> is touched.
"""

from __future__ import annotations

import re

__all__ = ["restore_case"]

_ELEMENTS = [
    "KeyContainer",
    "EncryptionKey",
    "KeyName",
    "MACMethod",
    "MACKey",
    "EncryptionMethod",
    "CipherData",
    "CipherValue",
    "KeyPackage",
    "DeviceInfo",
    "Manufacturer",
    "SerialNo",
    "Model",
    "IssueNo",
    "DeviceBinding",
    "StartDate",
    "ExpiryDate",
    "UserId",
    "CryptoModuleInfo",
    "Key",
    "Issuer",
    "AlgorithmParameters",
    "ResponseFormat",
    "ChallengeFormat",
    "Suite",
    "Data",
    "Secret",
    "EncryptedValue",
    "ValueMAC",
    "PlainValue",
    "Time",
    "TimeInterval",
    "Counter",
    "TimeDrift",
    "KeyProfileId",
    "KeyReference",
    "FriendlyName",
    "Policy",
    "PINPolicy",
    "KeyUsage",
    "NumberOfTransactions",
    "DerivedKey",
    "KeyDerivationMethod",
    "PBKDF2-params",
    "Salt",
    "Specified",
    "IterationCount",
    "KeyLength",
    "PRF",
    "ReferenceList",
    "DataReference",
    "MasterKeyName",
]
_ATTRIBUTES = [
    "Version",
    "Id",
    "Algorithm",
    "Length",
    "Encoding",
    "Min",
    "Max",
    "CheckDigits",
    "KeyId",
    "PINKeyId",
    "PINUsageMode",
    "MaxFailedAttempts",
    "MinLength",
    "MaxLength",
    "PINEncoding",
    "URI",
]
_ELEMENT = {name.lower(): name for name in _ELEMENTS}
_ATTRIBUTE = {name.lower(): name for name in _ATTRIBUTES}
_TAG = re.compile(rb"<(/?)(?:([A-Za-z0-9]+):)?([A-Za-z0-9-]+)([^<>]*)>")
_ATTR = re.compile(rb"(\s)([A-Za-z]+)(\s*=)")
_FLOAT_DRIFT = re.compile(rb"(<TimeDrift>\s*<PlainValue>\s*-?[0-9]+)\.[0-9]+(\s*</PlainValue>)")


def restore_case(document: bytes) -> bytes:
    if not document.lstrip().startswith(b"<keycontainer"):
        return document
    return _FLOAT_DRIFT.sub(rb"\1\2", _TAG.sub(_fix_tag, document))


def _fix_tag(match: re.Match[bytes]) -> bytes:
    slash, prefix, name, rest = match.groups()
    fixed = _ELEMENT.get(name.decode("ascii").lower(), name.decode("ascii")).encode("ascii")
    rest = _ATTR.sub(_fix_attribute, rest)
    head = prefix + b":" if prefix else b""
    return b"<" + slash + head + fixed + rest + b">"


def _fix_attribute(match: re.Match[bytes]) -> bytes:
    space, name, equals = match.groups()
    text = name.decode("ascii")
    return space + _ATTRIBUTE.get(text, text).encode("ascii") + equals
