"""Request limits enforced by web/protocol.py while bytes arrive, against the real server over
raw sockets (httpx would not send what an attacker sends): slow and endless bodies, huge
heads, slowloris heads, idle connections and too many connections. Small limits are set
through the documented OTPD_* variables so each case takes about a second.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.deployment import start_deployment
from tests.support.server import Server

LIMITS = {
    "OTPD_BODY_TIMEOUT": "1",
    "OTPD_HEADER_TIMEOUT": "2",
    "OTPD_MAX_CONNECTIONS": "6",
}
BAD_CHUNK = b"ffff\r\n" + b"x" * 0xFFFF + b"\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("limits") / "data"
    with start_deployment(data_dir, "limits", env=LIMITS, roles=()) as running:
        yield running.server


def _address(server: Server) -> tuple[str, int]:
    parts = urlsplit(server.url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _connect(server: Server, timeout: float = 10) -> socket.socket:
    return socket.create_connection(_address(server), timeout=timeout)


def _read_all(sock: socket.socket, limit: float = 10) -> bytes:
    """Everything until the server closes (or `limit` seconds pass)."""
    data = b""
    deadline = time.monotonic() + limit
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def _status(response: bytes) -> int:
    assert response.startswith(b"HTTP/1.1 "), response[:80]
    return int(response[9:12])


def _rss_kb(server: Server, field: str = "VmHWM") -> int:
    """The worker's resident memory (one worker: the server process itself)."""
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(field)


def _healthz(server: Server) -> int:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        return client.get("/healthz").status_code


def test_slow_body_is_408_and_closed(server: Server) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n" + b'{"username": '
        )
        started = time.monotonic()
        response = _read_all(sock)
    assert _status(response) == 408
    assert b'"error-message":"request body timeout"' in response  # Strongbox's format
    assert b"connection: close" in response.lower()
    assert time.monotonic() - started < 8  # closed by the 1 s deadline, not by our reader


def test_body_trickled_forever_is_408(server: Server) -> None:
    """A byte every 0.2 s keeps no timer alive: the deadline counts from the head."""
    with _connect(server) as sock:
        sock.sendall(b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        sock.settimeout(0.2)
        response = b""
        with contextlib.suppress(OSError):
            for _ in range(40):
                sock.sendall(b" ")
                with contextlib.suppress(TimeoutError):
                    response += sock.recv(65536)
                if response:
                    break
    assert _status(response) == 408


def test_endless_chunked_body_is_413_with_bounded_memory(server: Server) -> None:
    before = _rss_kb(server)
    with _connect(server) as sock:
        sock.sendall(
            b"POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sent = 0
        with contextlib.suppress(OSError):  # the server may close while we send
            # Send until the answer comes: it must come long before the body would end.
            while sent < 256 * 1024 * 1024 and not select.select([sock], [], [], 0)[0]:
                sock.sendall(BAD_CHUNK)
                sent += len(BAD_CHUNK)
        response = _read_all(sock)
    assert _status(response) == 413
    assert b"request body too large" in response
    assert sent < 32 * 1024 * 1024, f"answered only after {sent} bytes"
    assert _rss_kb(server) - before < 8 * 1024
    assert _healthz(server) == 200


def test_fifty_megabyte_header_is_431_with_bounded_memory(server: Server) -> None:
    before = _rss_kb(server)
    result: list[bytes] = []
    with _connect(server) as sock:
        reader = threading.Thread(target=lambda: result.append(_read_all(sock)))
        reader.start()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        with contextlib.suppress(OSError):
            for _ in range(50 * 16):  # 50 MB in 64 KiB pieces
                sock.sendall(b"a" * 65536)
        reader.join()
    assert _status(result[0]) == 431
    grown_kb = _rss_kb(server) - before
    assert grown_kb < 8 * 1024, f"peak RSS grew by {grown_kb} kB"
    assert _healthz(server) == 200


def test_url_over_its_cap_is_414_in_the_api_format(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        token2 = client.get("/validate", params={"format": "1", "token": "1" * 10_000})
        strongbox = client.get("/v1/config/strongbox/totp", params={"x": "y" * 10_000})
    assert token2.status_code == 414
    assert token2.json() == {"response": "request URL too long", "validation": "false"}
    assert strongbox.status_code == 414
    assert strongbox.json()["errors"][0]["error-message"] == "request URL too long"


def test_too_many_header_lines_is_431(server: Server) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-H%d: 1\r\n" % i for i in range(150)
    )
    with _connect(server) as sock:
        sock.sendall(head + b"\r\n")
        assert _status(_read_all(sock)) == 431


def test_slowloris_head_is_408_and_idle_connection_dropped(server: Server) -> None:
    started = time.monotonic()
    with _connect(server) as slow, _connect(server) as idle:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        slow.settimeout(0.3)
        response = b""
        with contextlib.suppress(OSError):
            for index in range(40):  # one header byte every 0.3 s, as slowloris does
                slow.sendall(b"X-A%d: b\r\n" % index)
                with contextlib.suppress(TimeoutError):
                    response += slow.recv(65536)
                if response:
                    break
        assert _status(response) == 408
        assert _read_all(idle) == b""  # closed without an answer: it asked nothing
    assert time.monotonic() - started < 10


def test_too_many_connections_are_refused_then_recover(server: Server) -> None:
    """OTPD_MAX_CONNECTIONS=6: held connections fill the worker (one left over from an earlier
    test may still count, so fill until refused), then even /healthz is 503 until they close."""
    held: list[socket.socket] = []
    refused = False
    try:
        while not refused and len(held) < 10:
            sock = _connect(server)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = _status(sock.recv(65536)) == 503
            held.append(sock)
        assert refused and len(held) <= 7, len(held)
        with httpx.Client(base_url=server.url, timeout=10) as client:
            response = client.get("/healthz")
            assert response.status_code == 503
            assert response.headers["retry-after"] == "1"
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + 10
    while _healthz(server) != 200 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _healthz(server) == 200


def test_keep_alive_still_serves_many_requests(server: Server) -> None:
    """The limits reset per request: one connection serves requests well past any one cap."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(50):
            response = client.post("/v1/login", json={"username": "u", "password": "p" * 2000})
            assert response.status_code == 401
