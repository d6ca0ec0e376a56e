"""pyrad as the NAS: reply shape (Message-Authenticator first, Proxy-State in order),
duplicates answered from the cache after one verification, CHAP refused, unknown NAS silent,
the Message-Authenticator policies, reply attributes and group labels, realm stripping."""

from __future__ import annotations

import socket
import time

from pyrad import packet

from tests.support.deployment import Deployment, create_nas
from tests.support.radius import access_request, exchange, new_user, reply_to
from tests.support.server import run_cli


def _nas(radius: Deployment, name: str, address: str, *options: str) -> str:
    secret = create_nas(radius.data_dir, name, "--address", address, *options)
    time.sleep(1.1)  # the registry reloads on a miss at most once a second
    return secret


def test_reply_is_signed_with_message_authenticator_first_and_proxy_state_in_order(
    radius: Deployment,
) -> None:
    user = new_user(radius)
    request = access_request(radius.nas["local"], user, radius.sb().code(user))
    request.AddAttribute("Proxy-State", b"first")
    request.AddAttribute("Proxy-State", b"second")
    replies = exchange(radius.radius_port, request.RequestPacket())
    assert len(replies) == 1
    reply = reply_to(request, replies[0])
    assert reply.code == packet.AccessAccept
    assert reply[33] == [b"first", b"second"]  # RFC 2865 §5.33: copied, in order


def test_retransmission_answered_from_cache_with_one_verification(radius: Deployment) -> None:
    """RFC 5080 §2.2.2: the NAS resends the same packet from the same socket; a right code
    must stay an Access-Accept, not turn into a replay reject."""
    secret = _nas(radius, "retrans", "127.0.0.5")
    user = new_user(radius)
    request = access_request(secret, user, radius.sb().code(user))
    raw = request.RequestPacket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.5", 0))
        sock.settimeout(2)
        sock.sendto(raw, ("127.0.0.1", radius.radius_port))
        first = sock.recv(8192)
        for _ in range(3):
            sock.sendto(raw, ("127.0.0.1", radius.radius_port))
            assert sock.recv(8192) == first  # the same Access-Accept, byte for byte
    assert reply_to(request, first).code == packet.AccessAccept
    log = radius.server.wait_for_log("nas=retrans mode=otp")
    assert log.count("radius accept tenant=acme nas=retrans") == 1
    assert "nas=retrans reason=replayed" not in log


def test_chap_is_refused_with_a_plain_reject(radius: Deployment) -> None:
    user = new_user(radius)
    request = access_request(radius.nas["local"], user, "ignored")
    del request["User-Password"]
    request["CHAP-Password"] = b"\x01" + bytes(16)
    replies = exchange(radius.radius_port, request.RequestPacket())
    assert len(replies) == 1
    reply = reply_to(request, replies[0])
    assert reply.code == packet.AccessReject
    assert list(reply.keys()) == ["Message-Authenticator"]  # no reason text
    assert "reason=chap-not-supported" in radius.server.wait_for_log("reason=chap-not-supported")


def test_unknown_nas_is_silent_and_audited_without_a_flood_of_lines(radius: Deployment) -> None:
    user = new_user(radius)
    request = access_request(radius.nas["local"], user, radius.sb().code(user))
    raw = request.RequestPacket()
    assert exchange(radius.radius_port, raw, source="127.0.0.9") == []
    assert "radius unknown-nas address=127.0.0.9" in radius.server.wait_for_log("127.0.0.9")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.9", 0))
        for _ in range(300):
            sock.sendto(raw, ("127.0.0.1", radius.radius_port))
    assert exchange(radius.radius_port, raw, source="127.0.0.9") == []
    lines = radius.server.log().count("radius unknown-nas address=127.0.0.9")
    assert lines < 20, "one rate-limited line, not one per packet"


def test_policy_auto_requires_message_authenticator_once_seen(radius: Deployment) -> None:
    secret = _nas(radius, "auto", "127.0.0.6", "--message-authenticator", "auto")
    user = new_user(radius)
    unsigned = access_request(secret, user, "000000", ma=False)
    assert len(exchange(radius.radius_port, unsigned.RequestPacket(), source="127.0.0.6")) == 1
    signed = access_request(secret, user, radius.sb().code(user))
    assert len(exchange(radius.radius_port, signed.RequestPacket(), source="127.0.0.6")) == 1
    later = access_request(secret, user, "000000", ma=False)
    assert exchange(radius.radius_port, later.RequestPacket(), source="127.0.0.6") == []


def test_policy_off_drops_proxy_state_without_message_authenticator(radius: Deployment) -> None:
    secret = _nas(radius, "legacy", "127.0.0.7", "--message-authenticator", "off")
    user = new_user(radius)
    plain = access_request(secret, user, "000000", ma=False)
    replies = exchange(radius.radius_port, plain.RequestPacket(), source="127.0.0.7")
    assert len(replies) == 1 and reply_to(plain, replies[0]).code == packet.AccessReject
    proxied = access_request(secret, user, "000000", ma=False)
    proxied.AddAttribute("Proxy-State", b"x")
    assert exchange(radius.radius_port, proxied.RequestPacket(), source="127.0.0.7") == []


def test_reply_attributes_and_group_label(radius: Deployment) -> None:
    options = (
        "--reply-attribute", "Session-Timeout=3600",
        "--reply-attribute", "Fortinet-Group-Name=vpn-users",
        "--reply-attribute", "Class=otpd",
        "--group-attribute", "Filter-Id",
        "--strip-realm",
    )  # fmt: skip
    secret = _nas(radius, "fortigate", "127.0.0.8", *options)
    user = new_user(radius)
    result = run_cli(
        "nas", "group", "--tenant", "acme", "--credential", user, "--label", "admins",
        "--data-dir", str(radius.data_dir),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    request = access_request(secret, f"{user}@corp.example", radius.sb().code(user))
    replies = exchange(radius.radius_port, request.RequestPacket(), source="127.0.0.8")
    assert len(replies) == 1
    reply = reply_to(request, replies[0])
    assert reply.code == packet.AccessAccept
    assert reply["Session-Timeout"] == [3600]
    assert reply["Fortinet-Group-Name"] == ["vpn-users"]
    assert reply["Class"] == [b"otpd"]
    assert reply["Filter-Id"] == ["admins"]
