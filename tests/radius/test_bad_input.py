"""Malformed datagrams from a known NAS address: dropped without a reply, no traceback, and
the server still answers a good request afterwards (RFC 2865 §3: silently discard)."""

from __future__ import annotations

import os
import socket
import struct

from pyrad import packet

from tests.support.deployment import Deployment
from tests.support.radius import access_request, exchange, new_user, reply_to


def _header(code: int, length: int) -> bytes:
    return struct.pack("!BBH", code, 7, length) + os.urandom(16)


def _bad_datagrams() -> list[bytes]:
    attr = b"\x01\x07alice"  # User-Name
    good_len = 20 + len(attr)
    return [
        b"",
        b"\x01",
        _header(1, 20)[:19],  # truncated header
        _header(1, 19) + attr,  # Length below the minimum
        _header(1, good_len + 10) + attr,  # Length past the datagram
        _header(1, 22) + b"\x01\x09al",  # attribute length past the packet
        _header(1, 24) + b"\x01\x01\x00\x00",  # attribute length below 2
        _header(1, 23) + b"\x01\x02\x05",  # a lone attribute type byte at the end
        _header(1, 4096) + b"\xc8\xff" * 2038,  # 4096 octets whose last attribute overruns
        _header(1, 5000) + bytes(4980),  # larger than RADIUS allows
        _header(4, good_len) + attr,  # Accounting-Request: not served here
        _header(2, good_len) + attr,  # an Access-Accept sent to the server
        _header(1, 38) + b"\x50\x12" + bytes(16),  # Message-Authenticator of zeros
        _header(1, 40) + b"\x50\x14" + bytes(18),  # Message-Authenticator of the wrong size
        _header(1, 40) + b"\xc8\x0a" + os.urandom(8) + b"\xc9\x0a" + os.urandom(8),
        os.urandom(300),
    ]


def test_malformed_datagrams_get_no_reply_and_cost_no_traceback(radius: Deployment) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.5)
        for datagram in _bad_datagrams() * 3:
            sock.sendto(datagram, ("127.0.0.1", radius.radius_port))
        for _ in range(200):
            sock.sendto(os.urandom(20 + os.urandom(1)[0]), ("127.0.0.1", radius.radius_port))
        try:
            answer = sock.recv(8192)
        except TimeoutError:
            answer = b""
    assert answer == b""
    user = new_user(radius)
    request = access_request(radius.nas["local"], user, radius.sb().code(user))
    replies = exchange(radius.radius_port, request.RequestPacket())
    assert len(replies) == 1 and reply_to(request, replies[0]).code == packet.AccessAccept
    log = radius.server.log()
    assert "Traceback" not in log and "ERROR" not in log


def test_signed_request_with_unknown_attributes_is_answered(radius: Deployment) -> None:
    """RFC 2865 §5: a server may ignore attributes it does not know; a signed request with
    them is still a request (here: an unknown type and a VSA of an unknown vendor)."""
    user = new_user(radius)
    request = access_request(radius.nas["local"], user, radius.sb().code(user))
    request[200] = [b"whatever"]
    request[(99999, 1)] = [b"vendor-thing"]
    replies = exchange(radius.radius_port, request.RequestPacket())
    assert len(replies) == 1 and reply_to(request, replies[0]).code == packet.AccessAccept


def test_4096_octet_request_is_answered(radius: Deployment) -> None:
    """The largest packet RFC 2865 §3 allows, padded with an unknown attribute."""
    user = new_user(radius)
    request = access_request(radius.nas["local"], user, radius.sb().code(user))
    size = len(request.RequestPacket())
    request[(99999, 2)] = [b"x" * 247] * ((4096 - size) // 255)
    raw = request.RequestPacket()
    assert 4096 - 255 < len(raw) <= 4096
    replies = exchange(radius.radius_port, raw)
    assert len(replies) == 1 and reply_to(request, replies[0]).code == packet.AccessAccept
