"""What a PhenixID request says about its caller: Basic credentials and a verified client
certificate subject. Whether that is enough is the tenant's decision (core.tenants.admit).

A client certificate subject comes from exactly one place (docs/api-phenixid.md, issue #6):

- the TCP peer is a trusted proxy (setting `trusted_proxies`): the proxy's header (setting
  `client_cert_header`, nginx `$ssl_client_s_dn`). The proxy speaks for its client, so a
  certificate the proxy itself shows us does not count.
- any other peer: the certificate our own TLS verified (`otpd serve --tls-client-ca`, the
  ASGI TLS extension filled by otpd.web.tls). The header is ignored: anyone can send it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from starlette.datastructures import Headers
from starlette.types import Scope

from otpd.api.phenixid.parse import basic_credentials
from otpd.core.tenants import Caller
from otpd.subjects import canonical_subject, subject_of_pem

__all__ = ["CertSource", "caller_of", "is_trusted_proxy"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class CertSource:
    """Where a client certificate subject may come from: the settings `trusted_proxies` and
    `client_cert_header`, given when the routes are built (web.app)."""

    trusted_proxies: tuple[str, ...] = ()
    client_cert_header: str = "X-SSL-Client-S-DN"


def caller_of(scope: Scope, headers: Headers, source: CertSource) -> Caller:
    subject = (
        _proxy_subject(headers, source.client_cert_header)
        if is_trusted_proxy(scope, source.trusted_proxies)
        else _native_subject(scope)
    )
    return Caller(basic=basic_credentials(headers), cert_subject=subject)


@lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def is_trusted_proxy(scope: Scope, trusted: tuple[str, ...]) -> bool:
    """Is the TCP peer (never a forwarded address) one of the configured proxies?"""
    client = scope.get("client")
    if not trusted or not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:  # a Unix socket peer or a name: not an address we were told to trust
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # "::ffff:10.0.0.5" on a dual-stack socket
    return any(address in network for network in _networks(trusted))


def _proxy_subject(headers: Headers, name: str) -> str | None:
    values = headers.getlist(name)
    if len(values) != 1:  # none, or repeated: which one did the proxy mean? Neither.
        return None
    try:
        return canonical_subject(values[0])
    except ValueError:
        return None


def _native_subject(scope: Scope) -> str | None:
    tls: dict[str, Any] | None = scope.get("extensions", {}).get("tls")
    if not tls:
        return None
    # A server implementing the ASGI TLS extension fills `client_cert_chain`; some versions
    # of the spec also give `client_cert_name`. Either way it is brought to canonical form.
    try:
        name = tls.get("client_cert_name")
        if isinstance(name, str) and name:
            return canonical_subject(name)
        chain = tls.get("client_cert_chain") or ()
        return subject_of_pem(chain[0]) if chain else None
    except ValueError:
        return None
