"""X.509 subject names in one canonical text form, so the three places a subject comes from
compare equal: a tenant's allow-list (`otpd tenant create --client-cert-subject`), a client
certificate verified by `otpd serve --tls-client-ca`, and a trusted proxy's header (nginx
`$ssl_client_s_dn`, which is RFC 2253 text since nginx 1.11.6).

The canonical form is RFC 4514 text as `cryptography` writes it: most specific RDN first
(`CN=client-a,O=Acme AB,C=SE`), upper-case short attribute names, values escaped per RFC 4514.
Parsing accepts what OpenSSL writes too: `emailAddress=` and the other OpenSSL short names
below, and UTF-8 escaped as `\\C3\\A9`. Values are compared exactly (case-sensitive).
"""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

__all__ = ["canonical_subject", "subject_of_der", "subject_of_pem"]

MAX_LENGTH = 4096

# RFC 4514's names, and those OpenSSL prints (XN_FLAG_RFC2253) that RFC 4514 does not define.
# Attribute types are case-insensitive (RFC 4512 §1.4).
_NAMES = {
    "CN": NameOID.COMMON_NAME,
    "L": NameOID.LOCALITY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
    "STREET": NameOID.STREET_ADDRESS,
    "DC": NameOID.DOMAIN_COMPONENT,
    "UID": NameOID.USER_ID,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "E": NameOID.EMAIL_ADDRESS,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "GN": NameOID.GIVEN_NAME,
    "givenName": NameOID.GIVEN_NAME,
    "SN": NameOID.SURNAME,
    "surname": NameOID.SURNAME,
    "title": NameOID.TITLE,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}


class _AnyCase(dict[str, ObjectIdentifier]):
    """The parser looks names up with `.get`: make that lookup case-insensitive."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


_PARSE_NAMES = _AnyCase({name.lower(): oid for name, oid in _NAMES.items()})
_WRITE_NAMES = {
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
    NameOID.TITLE: "title",
    NameOID.ORGANIZATION_IDENTIFIER: "organizationIdentifier",
}


def _text(name: x509.Name) -> str:
    return name.rfc4514_string(_WRITE_NAMES)


def canonical_subject(text: str) -> str:
    """RFC 4514/2253 text -> the canonical form. ValueError when it is not a DN."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_LENGTH:
        raise ValueError("not a distinguished name")
    try:
        name = x509.Name.from_rfc4514_string(text, _PARSE_NAMES)
    except (ValueError, TypeError):
        raise ValueError("not a distinguished name") from None
    if not name.rdns:
        raise ValueError("not a distinguished name")
    return _text(name)


def subject_of_der(der: bytes) -> str:
    """The canonical subject of a DER certificate (ValueError if it does not parse)."""
    return _text(x509.load_der_x509_certificate(der).subject)


def subject_of_pem(pem: str | bytes) -> str:
    """The canonical subject of a PEM certificate (ValueError if it does not parse)."""
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    return _text(x509.load_pem_x509_certificate(data).subject)
