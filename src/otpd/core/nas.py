"""RADIUS NAS clients and challenge state (issue #15, docs/radius.md), as plain values.

A NAS (network access server: a VPN concentrator, firewall or Wi-Fi controller) belongs to one
tenant; the source address of a packet selects it, so its address ranges must not overlap
another tenant's. Its shared secret is sealed like a TOTP secret: RADIUS needs the plaintext
to check and sign packets (RFC 2865 §3), so it cannot be hashed.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from otpd.core.errors import InvalidInput

__all__ = [
    "CHALLENGE_SECONDS",
    "MaPolicy",
    "NasClient",
    "NasMode",
    "RadiusChallenge",
    "check_overlaps",
    "check_reply_attributes",
    "parse_networks",
    "validate_nas_name",
]

NAS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
GROUP_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
CHALLENGE_SECONDS = 120
MAX_NETWORKS = 64
MAX_REPLY_ATTRIBUTES = 32


class NasMode(StrEnum):
    OTP = "otp"  # User-Password is the code
    CHALLENGE = "challenge"  # first factor, then Access-Challenge for the code
    PASSWORD_OTP = "password+otp"  # noqa: S105 (a mode name)  # the code appended to the directory password


class MaPolicy(StrEnum):
    """Message-Authenticator (RFC 3579 §3.2) on Access-Requests; BlastRADIUS, CVE-2024-3596."""

    REQUIRED = "required"
    AUTO = "auto"  # required once the NAS has sent one
    OFF = "off"


@dataclass(frozen=True)
class NasClient:
    tenant: str
    name: str
    networks: tuple[str, ...]
    sealed_secret: bytes
    mode: NasMode = NasMode.OTP
    message_authenticator: MaPolicy = MaPolicy.REQUIRED
    strip_realm: bool = False
    reply_attributes: tuple[tuple[str, str], ...] = ()  # (dictionary name, value), in order
    group_attribute: str | None = None  # the attribute a credential's group label goes in
    ldap_url: str | None = None  # the tenant's directory, for password+otp and challenge
    ldap_bind_dn: str | None = None  # template with {user}, e.g. uid={user},ou=people,...
    ma_seen: bool = False
    created_at: int = 0

    def __repr__(self) -> str:  # the sealed secret stays out of reprs and tracebacks
        return f"NasClient({self.tenant!r}, {self.name!r}, {self.networks!r})"

    def secret_context(self) -> str:
        """The sealer's tenant field for this NAS's secret. '/' never occurs in a tenant id,
        so a NAS secret can never be opened as a credential's secret, nor the reverse."""
        return f"radius-nas/{self.tenant}/{self.name}"

    def requires_message_authenticator(self) -> bool:
        if self.message_authenticator is MaPolicy.AUTO:
            return self.ma_seen
        return self.message_authenticator is MaPolicy.REQUIRED


@dataclass(frozen=True)
class RadiusChallenge:
    """One outstanding Access-Challenge: only the SHA-256 of its State is stored."""

    state_hash: str
    tenant: str
    nas: str
    user: str
    expires_at_us: int


def validate_nas_name(name: str) -> str:
    if not isinstance(name, str) or not NAS_NAME.fullmatch(name):
        raise InvalidInput("name", "must be 1-63 letters, digits, '.', '_' or '-'")
    return name


def validate_group_label(label: str) -> str:
    if not isinstance(label, str) or not GROUP_LABEL.fullmatch(label):
        raise InvalidInput("group", "must be 1-200 characters without control characters")
    return label


def parse_networks(items: Iterable[str]) -> tuple[str, ...]:
    """Addresses or CIDR networks, normalised ("192.0.2.7" -> "192.0.2.7/32")."""
    networks: list[str] = []
    for item in items:
        for part in str(item).split(","):
            if not part.strip():
                continue
            try:
                networks.append(str(ipaddress.ip_network(part.strip(), strict=False)))
            except ValueError:
                raise InvalidInput(
                    "address", f"{part.strip()[:60]!r} is not an address or CIDR"
                ) from None
    if not networks or len(networks) > MAX_NETWORKS:
        raise InvalidInput("address", f"give 1-{MAX_NETWORKS} addresses or CIDR networks")
    return tuple(dict.fromkeys(networks))


def check_reply_attributes(
    attributes: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, str], ...]:
    """A NAS's reply attributes go into every Access-Accept, which must fit RFC 2865 §3's
    4096 bytes with the rest of the reply: a bounded number of them."""
    if len(attributes) > MAX_REPLY_ATTRIBUTES:
        raise InvalidInput(
            "reply-attribute", f"give at most {MAX_REPLY_ATTRIBUTES} (got {len(attributes)})"
        )
    return attributes


def check_overlaps(candidate: NasClient, others: Sequence[NasClient]) -> None:
    """Refuse ranges that would make a packet's source address ambiguous: overlapping another
    tenant's NAS (the address selects the tenant), or equal to another NAS of the same tenant.
    Within one tenant a narrower range inside a wider one is allowed: the narrower wins."""
    mine = [ipaddress.ip_network(n) for n in candidate.networks]
    for other in others:
        if (other.tenant, other.name) == (candidate.tenant, candidate.name):
            continue
        for theirs in (ipaddress.ip_network(n) for n in other.networks):
            for net in mine:
                if net.version != theirs.version or not net.overlaps(theirs):
                    continue
                if other.tenant != candidate.tenant:
                    raise InvalidInput(
                        "address",
                        f"{net} overlaps {theirs} of a NAS in another tenant; "
                        "a source address must select one tenant",
                    )
                if net == theirs:
                    raise InvalidInput("address", f"{net} is already NAS {other.name!r}'s")
