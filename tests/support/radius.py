"""RADIUS helpers for a deployment started with `radius=True` (a real `otpd serve
--radius-listen` on a free UDP port) and its NAS: two independent clients, FreeRADIUS's
radclient (Debian freeradius-utils) and pyrad."""

from __future__ import annotations

import secrets
import socket
import subprocess
from pathlib import Path

from pyrad import packet
from pyrad.dictionary import Dictionary
from tests.support.deployment import Deployment


def new_user(deployment: Deployment) -> str:
    """A fresh credential of acme, made over Strongbox (so tests never share replay state);
    its name, with no realm in it."""
    return deployment.enrol(name=f"user-{secrets.token_hex(4)}").name


# --- radclient ---------------------------------------------------------------------------
def radclient(
    port: int,
    secret: str,
    attributes: str,
    *,
    command: str = "auth",
    timeout: float = 1.5,
    host: str = "127.0.0.1",
) -> subprocess.CompletedProcess[str]:
    """One request, no retries; `Message-Authenticator = 0x00` in `attributes` makes radclient
    compute it (FreeRADIUS 3.2.1 does not add one on its own)."""
    return subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", str(timeout), f"{host}:{port}", command, secret],
        input=attributes,
        capture_output=True,
        text=True,
        timeout=30,
    )


def pap(user: str, password: str, *, ma: bool = True) -> str:
    lines = [f'User-Name = "{user}"', f'User-Password = "{password}"']
    if ma:
        lines.append("Message-Authenticator = 0x00")
    return "\n".join(lines) + "\n"


# --- pyrad -------------------------------------------------------------------------------
def dictionary() -> Dictionary:
    return Dictionary(str(Path(__file__).parents[2] / "src/otpd/radius/dictionary"))


def access_request(secret: str, user: str, password: str, *, ma: bool = True) -> packet.AuthPacket:
    request = packet.AuthPacket(
        code=packet.AccessRequest, secret=secret.encode(), dict=dictionary(), User_Name=user
    )
    request["User-Password"] = request.PwCrypt(password)
    if ma:
        request.add_message_authenticator()
    return request


def exchange(
    port: int, raw: bytes, *, timeout: float = 1.5, source: str = "127.0.0.1", repeat: int = 1
) -> list[bytes]:
    """Send one datagram `repeat` times from one fresh socket bound to `source` (any
    127.0.0.0/8 address is local on Linux, so tests can play several NAS); the replies,
    up to `repeat` of them, received before `timeout` passes without one."""
    replies: list[bytes] = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        for _ in range(repeat):
            sock.sendto(raw, ("127.0.0.1", port))
        try:
            while len(replies) < repeat:
                replies.append(sock.recv(8192))
        except TimeoutError:
            pass
    return replies


def reply_to(request: packet.AuthPacket, raw: bytes) -> packet.AuthPacket:
    """Decode a reply and check it the way a BlastRADIUS-safe NAS does."""
    reply = packet.AuthPacket(secret=request.secret, dict=request.dict, packet=raw)
    assert request.VerifyReply(reply, raw, enforce_ma=True)
    assert raw[20] == 80, "Message-Authenticator must be the first attribute"
    return reply
