"""PhenixID test helpers beyond the thin client (tests/support/clients.py): a response's
shape for byte-for-byte comparisons, and requests sent exactly as written."""

from __future__ import annotations

import socket

import httpx

VOLATILE = {b"date", b"x-request-id"}


def shape(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A response as compares it: status, every header but Date and x-request-id, body."""
    headers = [(k.lower(), v) for k, v in response.headers.raw if k.lower() not in VOLATILE]
    return response.status_code, headers, response.content


def raw_request(url: str, request: bytes) -> bytes:
    """Send bytes as they are (no client normalising the path or headers); the answer's head."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


def raw_status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])
