"""RADIUS packets (RFC 2865) through pyrad: a cheap structural check first, then pyrad's codec.

`parse` runs on the event loop for every datagram, so it does bounded work and raises nothing
but BadPacket: the header and every attribute header are walked once (at most 4096 octets,
RFC 2865 §3) before pyrad decodes. pyrad 2.6 does not notice an attribute running past the
packet's end; the walk here does.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pyrad import packet
from pyrad.dictionary import Dictionary

__all__ = [
    "ACCESS_ACCEPT",
    "ACCESS_CHALLENGE",
    "ACCESS_REJECT",
    "ACCESS_REQUEST",
    "STATUS_SERVER",
    "BadPacket",
    "Request",
    "check_reply_attribute",
    "dictionary",
    "parse",
    "render",
]

ACCESS_REQUEST = packet.AccessRequest
ACCESS_ACCEPT = packet.AccessAccept
ACCESS_REJECT = packet.AccessReject
ACCESS_CHALLENGE = packet.AccessChallenge
STATUS_SERVER = packet.StatusServer
MIN_LENGTH, MAX_LENGTH = 20, 4096  # RFC 2865 §3
MESSAGE_AUTHENTICATOR, PROXY_STATE, VENDOR_SPECIFIC = 80, 33, 26
_HEADER = struct.Struct("!BBH16s")

_DICTIONARY: Dictionary | None = None


class BadPacket(Exception):
    """Not a well-formed Access-Request or Status-Server: dropped without a reply."""


def dictionary() -> Dictionary:
    global _DICTIONARY
    if _DICTIONARY is None:
        with resources.as_file(resources.files("otpd.radius") / "dictionary") as path:
            _DICTIONARY = Dictionary(str(path))
    return _DICTIONARY


@dataclass(frozen=True)
class Request:
    raw: bytes
    code: int
    ident: int
    authenticator: bytes
    has_message_authenticator: bool
    has_proxy_state: bool

    def cache_key(self, source: tuple[str, int]) -> tuple[str, int, int, bytes]:
        """RFC 5080 §2.2.2: a duplicate has the same source, Identifier and Authenticator."""
        return (source[0], source[1], self.ident, self.authenticator)


def parse(data: bytes) -> Request:
    """Check the framing of one datagram; raises BadPacket."""
    if not MIN_LENGTH <= len(data) <= MAX_LENGTH:
        raise BadPacket("datagram size")
    code, ident, length, authenticator = _HEADER.unpack_from(data)
    if code not in (ACCESS_REQUEST, STATUS_SERVER):
        raise BadPacket("code")
    if not MIN_LENGTH <= length <= len(data):
        raise BadPacket("length field")
    data = data[:length]  # RFC 2865 §3: octets past Length are padding
    seen_ma = seen_ps = False
    offset = MIN_LENGTH
    while offset < length:
        if offset + 2 > length:
            raise BadPacket("attribute header")
        kind, size = data[offset], data[offset + 1]
        if size < 2 or offset + size > length:
            raise BadPacket("attribute length")
        if kind == MESSAGE_AUTHENTICATOR:
            if seen_ma or size != 18:  # RFC 3579 §3.2: one, 16 octets
                raise BadPacket("Message-Authenticator")
            seen_ma = True
        seen_ps = seen_ps or kind == PROXY_STATE
        offset += size
    return Request(bytes(data), code, ident, authenticator, seen_ma, seen_ps)


def decode(request: Request, secret: bytes) -> packet.AuthPacket:
    """pyrad's view of a framed request, bound to the NAS's secret; raises BadPacket."""
    try:
        return packet.AuthPacket(secret=secret, dict=dictionary(), packet=request.raw)
    except (packet.PacketError, KeyError, ValueError, TypeError, IndexError, struct.error):
        raise BadPacket("attributes") from None


def message_authenticator_ok(decoded: packet.AuthPacket) -> bool:
    try:
        return bool(decoded.verify_message_authenticator())
    except Exception:  # pyrad raises bare Exception for a missing attribute
        return False


def render(
    decoded: packet.AuthPacket,
    code: int,
    attributes: tuple[tuple[str, Any], ...] = (),
) -> bytes:
    """A reply: Message-Authenticator first (BlastRADIUS), the request's Proxy-State in order
    (RFC 2865 §5.33, pyrad copies it), then `attributes`."""
    reply = decoded.CreateReply()
    reply.code = code
    reply.message_authenticator = True
    for name, value in attributes:
        reply.AddAttribute(name, value)
    raw: bytes = reply.ReplyPacket()
    return raw


def check_reply_attribute(name: str, value: str) -> tuple[str, Any]:
    """The (name, value) a NAS's reply list may hold, typed by the dictionary; ValueError."""
    base = name.partition(":")[0]
    attribute = dictionary().attributes.get(base)
    if attribute is None or base in ("User-Password", "Message-Authenticator", "Proxy-State"):
        raise ValueError(f"{name!r} is not an attribute otpd sends")
    typed: Any = int(value) if attribute.type == "integer" else value
    if attribute.type == "octets":
        typed = value.encode("utf-8")
    try:
        probe = packet.AuthPacket(dict=dictionary(), secret=b"x", authenticator=bytes(16))
        probe.AddAttribute(name, typed)
        probe.ReplyPacket()  # raises if the value does not encode (too long, out of range)
    except Exception as error:  # pyrad raises what its encoders raise
        raise ValueError(f"{name!r} cannot hold {value[:40]!r}") from error
    return name, typed
