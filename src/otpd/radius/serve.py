"""`otpd serve --radius-listen`: the RADIUS endpoint started with each worker's event loop."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

from otpd.bootstrap import build_runtime
from otpd.core.audit import AuditEvent
from otpd.core.errors import ConfigError
from otpd.crypto import NodeSession
from otpd.radius.server import bind_udp, radius_endpoint
from otpd.settings import Settings

__all__ = ["check_radius_listen", "serve_with_radius"]


def check_radius_listen(listen: tuple[str, int]) -> tuple[str, int]:
    """Bind once in the parent, before any worker starts, so a taken port or a foreign address
    stops `otpd serve` with one line; port 0 becomes the free port found, which every worker
    then binds with SO_REUSEPORT. The probe itself does not set SO_REUSEPORT, so a port that
    another process (another otpd included) holds with it is refused too, not shared."""
    host, port = listen
    try:
        probe = bind_udp(host, port, reuse_port=False)
    except OSError as error:
        raise ConfigError(
            f"cannot listen for RADIUS on udp {host}:{port}: {error.strerror}"
        ) from None
    with probe:
        return host, probe.getsockname()[1]


def serve_with_radius(
    server: uvicorn.Server,
    config: uvicorn.Config,
    sock: socket.socket,
    settings: Settings,
    node: NodeSession,
) -> None:
    """uvicorn's Server.run, with the RADIUS endpoint open for as long as HTTP serves. The
    endpoint has its own runtime (store connections and seal view) over the same database
    and node seal state as the HTTP app."""
    assert settings.radius_listen is not None
    host, port = settings.radius_listen

    async def main() -> None:
        runtime = build_runtime(settings, node, [_AppMetrics(config.app)])
        try:
            async with radius_endpoint(runtime, host, port):
                await server.serve(sockets=[sock])
        finally:
            runtime.close()

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(main())


class _AppMetrics:
    """The HTTP app's metrics (set up in its lifespan, after this runtime is built) count the
    RADIUS verifications too: one set of series per worker, labelled api="radius" by the
    handler's request context (docs/operations.md#metrics)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def emit(self, event: AuditEvent) -> None:
        metrics = getattr(getattr(self.app, "state", None), "metrics", None)
        if metrics is not None:
            metrics.emit(event)
