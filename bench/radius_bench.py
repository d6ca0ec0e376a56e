"""RADIUS Access-Requests/s beside HTTP verification, one server, one run (issue #15).

`otpd serve --radius-listen` on a populated data directory (distinct credentials, so a right
code is never a replay), then alternating phases of the same length and concurrency:

  radius-wrong / http-wrong   wrong codes, spread over many credentials (never throttled)
  radius-right / http-right   right codes, each credential once

RADIUS requests are signed PAP Access-Requests (Message-Authenticator, as a NAS sends them),
built before the phase and sent by an asyncio UDP load generator with N outstanding requests;
HTTP is Token2 /validate over N keep-alive connections (a bare asyncio HTTP/1.1 client, so
both generators do about as little work per request). The figure to quote is the ratio
radius/http of each kind: both go through the same verification and the same fsync'ed write,
so the ratio shows what RADIUS framing and signing cost against HTTP parsing and routing.

    .venv/bin/python -m bench.radius_bench [--seconds 6] [--concurrency 16] [--sync FULL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from pyrad import packet
from pyrad.dictionary import Dictionary

from bench.common import (
    PERIOD,
    TENANT,
    add_client,
    populate,
    print_table,
    secret_for,
    stop_group,
    wrong_code,
)
from bench.http_bench import REPO, _ready_url, otpd_cli, otpd_env
from otpd.core.model import Scope
from otpd.core.otp import totp

DICTIONARY = Dictionary(str(REPO / "src/otpd/radius/dictionary"))


class Users:
    """Hands out credential indexes, each once, so no right code is ever a replay."""

    def __init__(self) -> None:
        self.next = 1

    def take(self) -> int:
        self.next += 1
        return self.next - 1


def _code(index: int, right: bool) -> str:
    now = int(time.time())
    secret = secret_for(index)
    return totp(secret, now, PERIOD, 6) if right else wrong_code(secret, now)


def _radius_packet(secret: bytes, index: int, right: bool) -> bytes:
    request = packet.AuthPacket(
        code=packet.AccessRequest, secret=secret, dict=DICTIONARY, User_Name=f"c{index:07d}"
    )
    request["User-Password"] = request.PwCrypt(_code(index, right))
    request.add_message_authenticator()
    raw: bytes = request.RequestPacket()
    return raw


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)


async def _radius_phase(
    port: int, packets: list[bytes], seconds: float, concurrency: int
) -> tuple[int, dict[int, int]]:
    """Send `packets` (round by round, one socket per slot) for `seconds`; replies by code."""
    loop = asyncio.get_running_loop()
    codes: dict[int, int] = {}
    queue = iter(packets)
    deadline = loop.time() + seconds

    async def slot() -> None:
        transport, proto = await loop.create_datagram_endpoint(
            _Udp, remote_addr=("127.0.0.1", port)
        )
        try:
            for raw in queue:
                if loop.time() > deadline:
                    return
                proto.waiter = loop.create_future()
                transport.sendto(raw)
                try:
                    reply = await asyncio.wait_for(proto.waiter, 3)
                except TimeoutError:
                    codes[0] = codes.get(0, 0) + 1
                    continue
                codes[reply[0]] = codes.get(reply[0], 0) + 1
        finally:
            transport.close()

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return sum(codes.values()), codes


async def _http_phase(
    url: str, key: str, users: Users, right: bool, seconds: float, concurrency: int
) -> tuple[int, dict[str, int]]:
    """Token2 /validate over `concurrency` keep-alive connections, with a bare asyncio
    HTTP/1.1 client: about as little client work per request as the UDP generator does."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    answers: dict[str, int] = {}
    deadline = time.monotonic() + seconds

    async def slot() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.monotonic() < deadline:
                index = users.take()
                query = f"api={key}&token={_code(index, right)}&userid={index}&format=1"
                writer.write(f"GET /validate?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                body = json.loads(await reader.readexactly(length))
                answer = str(body.get("validation"))
                answers[answer] = answers.get(answer, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(slot() for _ in range(concurrency)))
    return sum(answers.values()), answers


@contextlib.contextmanager
def _serve(data_dir: Path, port: int, sync: str) -> Iterator[str]:
    command = [sys.executable, "-m", "otpd", "serve", "--data-dir", str(data_dir), "--port", "0"]
    command += ["--radius-listen", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=otpd_env(sync, "warning"),
        cwd=REPO,
        start_new_session=True,
    )
    try:
        yield _ready_url(proc, None)
    finally:
        stop_group(proc)


def _free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _run(args: argparse.Namespace, data_dir: Path) -> None:
    populate(data_dir, args.credentials)
    key = add_client(data_dir, "bench-http", [Scope.VERIFY])
    created = otpd_cli(data_dir, "nas", "create", "--tenant", TENANT, "--name", "bench",
                       "--address", "127.0.0.1", "--json")  # fmt: skip
    secret = json.loads(created)["secret"].encode()
    port = _free_udp_port()
    users = Users()
    rows: list[list[object]] = []
    with _serve(data_dir, port, args.sync) as url:
        rates: dict[str, float] = {}
        for right in (False, True):
            kind = "right" if right else "wrong"
            # Enough packets for a fast phase; built before the clock starts.
            budget = int(args.seconds * 3000)
            packets = [_radius_packet(secret, users.take(), right) for _ in range(budget)]
            started = time.perf_counter()
            done, codes = asyncio.run(_radius_phase(port, packets, args.seconds, args.concurrency))
            rates[f"radius-{kind}"] = done / (time.perf_counter() - started)
            rows.append([f"radius-{kind}", done, f"{rates[f'radius-{kind}']:.0f}", _show(codes)])
            started = time.perf_counter()
            done, answers = asyncio.run(
                _http_phase(url, key, users, right, args.seconds, args.concurrency)
            )
            rates[f"http-{kind}"] = done / (time.perf_counter() - started)
            rows.append([f"http-{kind}", done, f"{rates[f'http-{kind}']:.0f}", _show(answers)])
    print_table(["phase", "requests", "per s", "answers"], rows)
    for kind in ("wrong", "right"):
        ratio = rates[f"radius-{kind}"] / rates[f"http-{kind}"]
        print(f"ratio radius/http, {kind} codes: {ratio:.2f}")


def _show(counts: dict[int, int] | dict[str, int]) -> str:
    names: dict[object, str] = {2: "accept", 3: "reject", 0: "timeout"}
    return " ".join(f"{names.get(k, k)}={v}" for k, v in sorted(counts.items(), key=str))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=6.0, help="length of each phase")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--credentials", type=int, default=60000)
    parser.add_argument("--sync", choices=["FULL", "NORMAL"], default="FULL")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="otpd-radius-bench-") as tmp:
        _run(args, Path(tmp) / "data")


if __name__ == "__main__":
    main()
