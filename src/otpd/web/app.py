"""create_app(settings): the one ASGI application. Nothing happens at import, so importing
never opens a database or reads a key: the lifespan builds the runtime (store, seal,
services) and closes it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Scope

from otpd import console
from otpd.api import hop, phenixid, strongbox, system, token2
from otpd.bootstrap import Runtime, build_runtime
from otpd.core.errors import OtpdError, StoreUnavailable
from otpd.core.trail import Fanout
from otpd.crypto import NodeSession
from otpd.settings import Settings
from otpd.web.keys_task import reencrypt_forever
from otpd.web.metrics import Metrics, RouteLatency, metrics_endpoint
from otpd.web.middleware import (
    AccessLog,
    BodyCap,
    ErrorRenderer,
    LastResort,
    RequestId,
    SealedGate,
)

__all__ = ["create_app"]

log = logging.getLogger("otpd.server")

DomainErrorRenderer = Callable[[OtpdError, Scope], Response]


class _Api(NamedTuple):
    name: str  # the metrics' `api` label (a fixed, small set)
    prefixes: tuple[str, ...]
    render: ErrorRenderer
    render_domain: DomainErrorRenderer


# One table: which API owns which paths, its name, how it words a transport error (404, 405,
# 413, 503 sealed, 500) and how it renders a domain error (its one error table). Every vendor
# path answers 503 while sealed (docs/requirements.md#encrypted-at-rest), before any routing or
# parsing; the system paths (seal, unseal, export) are not gated. The first matching prefix wins.
_APIS: tuple[_Api, ...] = (
    _Api("phenixid", phenixid.PREFIXES, phenixid.render_error, phenixid.render_domain_error),
    _Api("token2", token2.PREFIXES, token2.render_error, token2.render_domain_error),
    _Api("system", system.PREFIXES, strongbox.render_error, system.render_domain_error),
    _Api("strongbox", strongbox.PREFIXES, strongbox.render_error, strongbox.render_domain_error),
)
_UNGATED_PREFIXES = system.PREFIXES


def _owner(path: str) -> _Api | None:
    for api in _APIS:
        if path.startswith(api.prefixes):
            return api
    return None


def sealed_gate(path: str) -> bool:
    return not path.startswith(_UNGATED_PREFIXES) and _owner(path) is not None


def api_of(path: str) -> str:
    """The API that owns a path: the metrics' `api` label (a fixed, small set)."""
    api = _owner(path)
    return "-" if api is None else api.name


def render_error(status: int, message: str, scope: Scope) -> Response:
    api = _owner(scope["path"])
    if api is not None:
        return api.render(status, message, scope)
    return JSONResponse({"error": message}, status_code=status)


async def _domain_error(request: Request, exc: Exception) -> Response:
    """Every domain error an endpoint raises, rendered by the owning API's one table. An
    error outside every API re-raises to the last-resort handler (a fixed 500)."""
    assert isinstance(exc, OtpdError)
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None and isinstance(exc, StoreUnavailable):
        metrics.store_errors.inc()
    path = request.scope["path"]
    api = _owner(path)
    if api is not None:
        return api.render_domain(exc, request.scope)
    if path.startswith(console.PREFIXES):  # the console's pages (not sealed-gated: no _APIS)
        return console.render_domain_error(exc, request.scope)
    raise exc


SWEEP_SECONDS = 300


async def _sweep_forever(runtime: Runtime) -> None:
    """Expired tokens and enrolment tickets go every few minutes, off the request path."""
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        if runtime.sealer.is_sealed():
            continue  # sealed means nothing changes (docs/requirements.md#sealed)
        try:
            await run_in_threadpool(runtime.sweep_expired)
            await run_in_threadpool(runtime.trail.prune)  # the audit_retention_days setting
        except OtpdError as error:  # a busy or full disk: try again next time
            log.warning("sweep of expired tokens and tickets failed: %s", type(error).__name__)


async def healthz(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    if runtime.sealer.is_sealed():
        return JSONResponse({"status": "sealed"}, status_code=503)
    try:  # one point read: is the (possibly shared, docs/scale-out.md) database answering?
        # The API requests' hop (otpd.api.hop): healthz is the bench's baseline request.
        await hop.run_in_worker(runtime.store.get_meta, "seal_config")
    except OtpdError:
        return JSONResponse({"status": "database unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def livez(request: Request) -> Response:
    """The process answers: 200 even while sealed (a sealed instance must not be restarted,
    or its unseal progress is lost). No worker hop, no database."""
    return JSONResponse({"status": "alive"})


READY_TIMEOUT_SECONDS = 2.0


async def readyz(request: Request) -> Response:
    """Should this instance get traffic? Unsealed, the database answering within a timeout,
    and a sane clock (otpd.core.trail.ClockWatch); else 503 with every reason."""
    runtime: Runtime = request.app.state.runtime
    reasons = []
    if runtime.sealer.is_sealed():
        reasons.append("sealed")
    try:
        await asyncio.wait_for(
            run_in_threadpool(runtime.store.get_meta, "seal_config"), READY_TIMEOUT_SECONDS
        )
    except (OtpdError, TimeoutError):
        reasons.append("database unavailable")
    clock = runtime.clock_watch.problem()
    if clock is not None:
        reasons.append(clock)
    if reasons:
        return JSONResponse({"status": "not ready", "reasons": reasons}, status_code=503)
    return JSONResponse({"status": "ready"})


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = render_error(exc.status_code, exc.detail, request.scope)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def _lifespan(
    settings: Settings, node: NodeSession | None, runtime: Runtime | None
) -> Callable[[Starlette], contextlib.AbstractAsyncContextManager[None]]:
    """Builds the runtime at startup (unless one is shared) and closes what it built."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owned = runtime is None
        metrics = Metrics() if settings.metrics else None
        listeners = [metrics] if metrics is not None else []
        app.state.metrics = metrics
        app.state.runtime = runtime or build_runtime(settings, node, listeners)
        if metrics is not None:
            metrics.sealed.set(1 if app.state.runtime.sealer.is_sealed() else 0)
        if not owned and metrics is not None:  # a runtime shared by tests: count its events too
            context = app.state.runtime.context
            context.events = Fanout([context.events, metrics])
        sweeper = asyncio.create_task(_sweep_forever(app.state.runtime))
        reencrypter = asyncio.create_task(reencrypt_forever(app.state.runtime))  # issue #14
        try:
            yield
        finally:
            sweeper.cancel()
            reencrypter.cancel()
            if owned:
                app.state.runtime.close()

    return lifespan


def _routes(settings: Settings) -> list[BaseRoute]:
    serve_metrics = settings.metrics and settings.metrics_listen is None
    # Each adapter is given its configuration here, once (it never reads settings itself).
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/livez", livez, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        # On the main port unless --metrics-listen moves it (web/server.py); 404 when off.
        *([Route("/metrics", metrics_endpoint, methods=["GET"])] if serve_metrics else []),
        *system.ROUTES,
        *strongbox.routes(site=settings.site),
        *token2.routes(public_url=settings.public_url),
        *phenixid.routes(
            trusted_proxies=settings.trusted_proxies,
            client_cert_header=settings.client_cert_header,
        ),
        *console.routes(),  # /ui/: admin console and self-service enrolment (issue #16)
    ]


def _middleware(settings: Settings, state: Callable[[], State]) -> list[Middleware]:
    """Outermost first. The id and context wrap everything, so every log line and event of
    the request carries them; the access log and latency see every answer, the refusals
    below included; the last resort turns anything unhandled into a 500; the caps and the
    seal gate answer before routing or parsing. `state` is the app's, read per request (the
    lifespan fills it in)."""

    def is_sealed() -> bool:
        runtime: Runtime | None = getattr(state(), "runtime", None)
        return runtime is None or runtime.sealer.is_sealed()

    def current_metrics() -> Metrics | None:
        found: Metrics | None = getattr(state(), "metrics", None)
        return found

    return [
        Middleware(RequestId, trusted_proxies=settings.trusted_proxies, api_of=api_of),
        Middleware(AccessLog),
        Middleware(RouteLatency, metrics=current_metrics),
        Middleware(LastResort, render_error=render_error),
        Middleware(
            BodyCap,
            render_error=render_error,
            max_body_bytes=settings.max_body_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
        ),
        Middleware(
            SealedGate, render_error=render_error, is_sealed=is_sealed, sealed_gate=sealed_gate
        ),
    ]


def create_app(
    settings: Settings, node: NodeSession | None = None, runtime: Runtime | None = None
) -> Starlette:
    """The app for one worker process. Pass `runtime` to share an already built one (tests)."""
    app = Starlette(
        routes=_routes(settings),
        lifespan=_lifespan(settings, node, runtime),
        exception_handlers={HTTPException: _http_exception, OtpdError: _domain_error},
        middleware=_middleware(settings, lambda: app.state),
    )
    # No slash redirects: Starlette's would answer `GET /validate/?api_key=...` with a 307 whose
    # Location repeats the query string, secrets included. Every vendor path is exact (the
    # PhenixID routes list their trailing-slash form themselves), so the API's own 404 is right.
    app.router.redirect_slashes = False
    return app
