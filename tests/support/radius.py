"""RADIUS helpers: a real `otpd serve --radius-listen` on a free UDP port, its NAS secret,
and two independent clients: FreeRADIUS's radclient (Debian freeradius-utils) and pyrad."""

from __future__ import annotations

import json
import secrets
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from pyrad import packet
from pyrad.dictionary import Dictionary
from tests.support.clients import Sb
from tests.support.server import Server, run_cli

ALL_SCOPES = ["read", "write", "verify", "code", "reveal"]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def nas_create(data_dir: Path, *args: str) -> str:
    """`otpd nas create ... --json`; returns the secret (registered for the log check)."""
    result = run_cli("nas", "create", *args, "--json", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr
    secret: str = json.loads(result.stdout)["secret"]
    from tests.support import server as harness

    harness.register_secret(secret.encode())  # a NAS secret must never reach a log either
    return secret


@dataclass
class Radius:
    server: Server
    port: int
    secret: str
    sb: Sb
    data_dir: Path
    key: str
    users: list[str] = field(default_factory=list)

    def user(self) -> str:
        """A fresh credential (so tests never share replay state)."""
        name = f"user{len(self.users)}-{secrets.token_hex(3)}"
        response = self.sb.create(name)
        assert response.status_code == 201, response.text
        self.users.append(name)
        return name


def radius_server(data_dir: Path, port: int, *extra: str, name: str = "radius") -> Server:
    """Not started yet: `with radius_server(...) as server:` starts and stops it."""
    return Server(data_dir, "--radius-listen", f"127.0.0.1:{port}", *extra, name=name)


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
