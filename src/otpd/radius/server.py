"""The RADIUS UDP endpoint of one worker process (RFC 2865 over UDP, docs/radius.md).

Same shape as the HTTP adapters: frame checks on the event loop (bounded, cheap, BadPacket ->
drop), then one call in a worker thread (handler.Handler: NAS, checks, verification, reply).
Every worker binds the port with SO_REUSEPORT; the kernel hashes a NAS's source address and
port to one worker, so its retransmissions meet the duplicate cache of the worker that saw the
original.

Duplicates (RFC 5080 §2.2.2): a request with the source, Identifier and Authenticator of one
seen in the last 5 s gets the cached reply, and is never verified twice (a retransmitted right
code must not become a replay reject). While the original is still being answered, the
duplicate is dropped: its reply is on the way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import cast

from otpd.radius import codec
from otpd.radius.gate import GateRuntime, RadiusGate, gate_for
from otpd.radius.handler import Handler

__all__ = ["RadiusProtocol", "bind_udp", "radius_endpoint"]

log = logging.getLogger("otpd.radius")

DUPLICATE_SECONDS = 5.0
MAX_CACHED = 65536
MAX_PENDING = 512  # requests being answered at once; more are dropped (the NAS retries)
THREADS = 8
SWEEP_SECONDS = 60.0
_Key = tuple[str, int, int, bytes]


def bind_udp(host: str, port: int, *, reuse_port: bool = True) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class RadiusProtocol(asyncio.DatagramProtocol):
    def __init__(self, handler: Handler, executor: ThreadPoolExecutor) -> None:
        self.handler = handler
        self.executor = executor
        self.transport: asyncio.DatagramTransport | None = None
        self.cache: OrderedDict[_Key, tuple[float, bytes | None]] = OrderedDict()
        self.pending = 0
        self.dropped = 0  # malformed or excess datagrams: counted, never logged one by one

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's UDP transport is not an asyncio.DatagramTransport subclass, only alike.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            request = codec.parse(data)
        except codec.BadPacket:
            self.dropped += 1
            return
        source = (addr[0], addr[1])
        if self.handler.registry.surely_unknown(source[0]):
            self.handler.unknown_nas(source[0])
            return
        key = request.cache_key(source)
        now = time.monotonic()
        self._expire(now)
        cached = self.cache.get(key)
        if cached is not None:
            if cached[1] is not None and self.transport is not None:
                self.transport.sendto(cached[1], addr)
            return
        if self.pending >= MAX_PENDING:
            self.dropped += 1
            return
        self.cache[key] = (now + DUPLICATE_SECONDS, None)
        self.pending += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self.handler, request, source)
        future.add_done_callback(lambda done: self._answered(key, addr, done))

    def _answered(
        self, key: _Key, addr: tuple[str, int], done: asyncio.Future[bytes | None]
    ) -> None:
        self.pending -= 1
        if done.cancelled():  # shutting down
            return
        reply = done.result()  # the handler returns None for every failure, never raises
        if reply is None:
            self.cache.pop(key, None)  # nothing sent: a retry is a new request
            return
        if key in self.cache:
            self.cache[key] = (self.cache[key][0], reply)
        if self.transport is not None:
            self.transport.sendto(reply, addr)

    def _expire(self, now: float) -> None:
        while self.cache:
            expires, _ = next(iter(self.cache.values()))
            if expires > now and len(self.cache) < MAX_CACHED:
                break
            self.cache.popitem(last=False)


async def _sweep_forever(gate: RadiusGate, executor: ThreadPoolExecutor) -> None:
    """Expired challenge states go every minute; taking a State checks expiry itself."""
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        if gate.is_sealed():
            continue
        try:
            await loop.run_in_executor(executor, gate.sweep)
        except Exception as error:  # a busy disk: next time
            log.warning("sweep of RADIUS challenges failed: %s", type(error).__name__)


@contextlib.asynccontextmanager
async def radius_endpoint(
    runtime: GateRuntime, host: str, port: int
) -> AsyncIterator[RadiusProtocol]:
    """Serve RADIUS on (host, port) on the running loop until the block ends."""
    gate = gate_for(runtime)
    executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="otpd-radius")
    loop = asyncio.get_running_loop()
    sock = bind_udp(host, port)
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: RadiusProtocol(Handler(gate), executor), sock=sock
    )
    sweeper = asyncio.create_task(_sweep_forever(gate, executor))
    log.info("radius listening on udp %s:%d", host, sock.getsockname()[1])
    try:
        yield protocol
    finally:
        sweeper.cancel()
        transport.close()
        executor.shutdown(wait=True, cancel_futures=True)
