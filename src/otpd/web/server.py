"""`otpd serve`: bind once, run one or several uvicorn worker processes on the shared socket.

The parent checks start-up (data directory, database, seal key) before binding, so a bad key
file or a newer schema stops the server with one clear line. Workers are forked after the
socket and the NodeSession exist, so they share both; each opens its own database connections.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import replace
from functools import partial

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from otpd.bootstrap import build_runtime
from otpd.core.errors import ConfigError
from otpd.crypto import NodeSession
from otpd.crypto.node import live_sessions
from otpd.logs import configure_logging
from otpd.settings import Settings
from otpd.web.app import create_app, render_error
from otpd.web.metrics import cleanup_multiprocess, prepare_multiprocess, serve_metrics_on
from otpd.web.protocol import HttpLimits, limited_protocol
from otpd.web.tls import check_tls, tls_answers, tls_enabled, uvicorn_tls_options

__all__ = ["configure_logging", "serve"]

log = logging.getLogger("otpd.server")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _base_url(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2):  # noqa: S310 (our URL)
            pass
    except urllib.error.HTTPError:
        pass  # 503 sealed: the server is up
    except OSError:
        return False
    return True


def _announce_when_ready(url: str, answers: Callable[[], bool] | None = None) -> None:
    """Print the one documented line once the app answers (200 ok or 503 sealed); over TLS,
    once a worker answers a handshake (web/tls.py: we hold no client certificate)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not (answers() if answers else _http_answers(url)):
            time.sleep(0.05)
            continue
        print(f"otpd listening on {url}", flush=True)
        return
    log.error("server did not become ready within 60 s")


# CPython collects the young generation every 700 new container objects by default; a request
# makes a few hundred, so most collections found the in-flight requests' objects alive and
# promoted them. docs/performance.md ("Garbage collection") has the measurement.
GC_YOUNG_THRESHOLD = 10_000


def quiet_gc() -> None:
    """Once a worker serves: what is alive now (modules, the app, the runtime) lives as long as
    the process, so it moves to the permanent generation (gc.freeze) and the collector stops
    scanning it again and again; a full collection of it took milliseconds, paid by whichever
    request was running. Then the young generation is collected less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


class _Server(uvicorn.Server):
    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        quiet_gc()


def check_pinning(settings: Settings) -> None:
    """pin_workers where the OS has no CPU affinity call (macOS, Windows) is refused at start,
    in the parent, instead of failing in every worker."""
    if settings.pin_workers and not hasattr(os, "sched_setaffinity"):
        raise ConfigError("pin_workers needs CPU affinity (Linux); leave it off on this system")


def _pin(settings: Settings, index: int) -> None:
    """With pin_workers, worker `index` and every thread it starts from now on run on one CPU,
    the index-th of those this process may use (docs/performance.md#one-cpu-per-worker)."""
    if settings.pin_workers:
        allowed = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {allowed[index % len(allowed)]})


def _run_worker(settings: Settings, node: NodeSession, sock: socket.socket, index: int = 0) -> int:
    _pin(settings, index)
    options = uvicorn_tls_options(settings)
    # Request limits enforced while bytes arrive, on top of the TLS protocol when there is one.
    options["http"] = limited_protocol(
        HttpLimits.from_settings(settings), render_error, options.get("http", HttpToolsProtocol)
    )
    config = uvicorn.Config(
        create_app(settings, node),
        lifespan="on",
        # ours logs the path without the query string (docs/requirements.md#no-secret-leaves)
        access_log=False,
        log_config=None,
        server_header=False,
        proxy_headers=False,
        timeout_graceful_shutdown=10,
        ws="none",  # no API speaks WebSocket: an Upgrade must not leave our protocol's limits
        **options,
    )
    server = _Server(config)
    if settings.radius_listen is None:
        server.run(sockets=[sock])
    else:  # RADIUS on this worker's event loop, beside HTTP (issue #15, docs/radius.md)
        from otpd.radius.serve import serve_with_radius

        serve_with_radius(server, config, sock, settings, node)
    return 0 if server.started else 3


def _fork_worker(settings: Settings, node: NodeSession, sock: socket.socket, index: int) -> int:
    pid = os.fork()
    if pid == 0:  # child
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        code = 1
        try:
            code = _run_worker(settings, node, sock, index)
        finally:
            os._exit(code)
    return pid


def _supervise(
    settings: Settings,
    node: NodeSession,
    sock: socket.socket,
    url: str,
    probe: Callable[[], bool] | None = None,
) -> int:
    # pid -> worker index: a restarted worker takes the index (and CPU) of the one it replaces
    children = {_fork_worker(settings, node, sock, i): i for i in range(settings.workers)}
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=_announce_when_ready, args=(url, probe), daemon=True).start()
    failures = 0
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        index = children.pop(pid, 0)
        if stopping:
            continue
        code = os.waitstatus_to_exitcode(status)
        log.warning("worker %d exited with %d; starting another", pid, code)
        failures = failures + 1 if code == 3 else 0
        if failures >= 3:  # start-up keeps failing: stop rather than spin
            stop(signal.SIGTERM, None)
            return 1
        time.sleep(0.2)
        children[_fork_worker(settings, node, sock, index)] = index
    return 0


def serve(settings: Settings) -> int:
    configure_logging(settings.log_level, settings.log_format, settings.syslog)
    build_runtime(settings).close()  # fail fast, in the parent, with one clear message
    check_tls(settings)
    check_pinning(settings)
    # Bind before the instance state exists: a start that fails (port taken) leaves nothing
    # behind, and never touches another instance's state (docs/scale-out.md).
    sock = _bind(settings.host, settings.port)
    node = NodeSession.start(settings.data_dir)
    # Per instance: workers of this serve share it; another instance has its own.
    # Killed instances' metrics directories go now: the node start just swept their files.
    live = live_sessions(settings.data_dir)
    metrics_dir = prepare_multiprocess(node.session_id, settings.data_dir, live)
    # uvicorn re-raises the SIGTERM it handled once it has shut down; the default action
    # would end the process before the clean-up below runs (and leave this instance's files).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return _serve_bound(settings, node, sock)
    finally:
        cleanup_multiprocess(metrics_dir)
        node.close()


def _exit_on_sigterm(_signum: int, _frame: object) -> None:
    raise SystemExit(0)


def _serve_bound(settings: Settings, node: NodeSession, sock: socket.socket) -> int:
    if settings.radius_listen is not None:
        try:
            from otpd.radius.serve import check_radius_listen
        except ImportError:
            raise ConfigError("--radius-listen needs the radius extra: otpd[radius]") from None
        settings = replace(settings, radius_listen=check_radius_listen(settings.radius_listen))
    port = sock.getsockname()[1]
    url = _base_url(settings.host, port, "https" if tls_enabled(settings) else "http")
    settings = replace(settings, port=port, public_url=settings.public_url or url)
    probe = partial(tls_answers, settings.host, port) if tls_enabled(settings) else None
    if settings.metrics and settings.metrics_listen is not None:
        # In the parent: it serves no requests, and outlives any worker it restarts.
        serve_metrics_on(*settings.metrics_listen)
    if settings.workers > 1:
        return _supervise(settings, node, sock, url, probe)
    threading.Thread(target=_announce_when_ready, args=(url, probe), daemon=True).start()
    return _run_worker(settings, node, sock)
