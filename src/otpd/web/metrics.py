"""Prometheus metrics (issue #13, docs/operations.md#metrics): the series, the listener that
counts the services' events, the latency middleware and the /metrics endpoint.

With `--workers N` every worker writes its values to files in a per-instance directory
(prometheus-client's multiprocess mode, PROMETHEUS_MULTIPROC_DIR; see prepare_multiprocess)
and a scrape of any worker sums them. prometheus_client reads that variable when it is first
imported, so this module imports it only inside functions: `otpd serve` sets the directory
before any worker starts.
Labels are bounded: api, tenant, outcome, route template; never a credential name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from otpd.core.audit import AuditEvent, current_context
from otpd.core.errors import ConfigError, OtpdError
from otpd.web.middleware import route_of

__all__ = [
    "Metrics",
    "RouteLatency",
    "cleanup_multiprocess",
    "metrics_dir_prefix",
    "metrics_endpoint",
    "prepare_multiprocess",
    "serve_metrics_on",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Matched step offsets: a code from the step before now is -1 (RFC 6238 §5.2 window).
_OFFSET_BUCKETS = (-5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0)


def metrics_dir_prefix(data_dir: Path) -> str:
    """The name prefix of the metrics directories of the instances of one data directory:
    the system's temporary directory may hold other deployments' (docs/operations.md#metrics)."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"otpd-metrics-{digest}-"


def prepare_multiprocess(session_id: str, data_dir: Path, live: set[str]) -> Path:
    """A fresh metrics directory for this instance, removed by `cleanup_multiprocess`; the
    directories that instances of this data directory not in `live` (the running sessions,
    otpd.crypto.node.live_sessions) left behind when killed are removed first.

    In the system's temporary directory, not the data directory: prometheus-client maps its
    value files into memory, and a page of a mapped file that cannot be allocated on a full
    disk kills the process (SIGBUS). A full data disk must give 503s, never a dead worker
    (tests/e2e/test_full_disk.py)."""
    prefix = metrics_dir_prefix(data_dir)
    temp = Path(tempfile.gettempdir())
    for stale in temp.glob(prefix + "*"):
        if stale.name.removeprefix(prefix) not in live | {session_id}:
            shutil.rmtree(stale, ignore_errors=True)
    folder = temp / f"{prefix}{session_id}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    os.environ[MULTIPROC_ENV] = str(folder)
    return folder


def cleanup_multiprocess(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    os.environ.pop(MULTIPROC_ENV, None)


class Metrics:
    """The series of one process (created in each worker, after the fork)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        # In multiprocess mode the values live in files; this registry only names the series
        # for a single process. The scrape builds its own (see `render`).
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.verifications = Counter(
            "otpd_verifications",
            "Verifications by API, tenant and true outcome (accepted, rejected = wrong code, "
            "replayed, throttled, unknown)",
            ["api", "tenant", "outcome"],
            registry=reg,
        )
        self.actions = Counter(
            "otpd_audit_events",
            "Management actions by action and outcome (the audit trail's counts)",
            ["action", "outcome"],
            registry=reg,
        )
        self.offsets = Histogram(
            "otpd_accepted_step_offset",
            "Matched step offset of accepted codes (-N..+N): clock drift",
            ["tenant"],
            buckets=_OFFSET_BUCKETS,
            registry=reg,
        )
        self.latency = Histogram(
            "otpd_request_duration_seconds",
            "Request latency by route template and method",
            ["route", "method"],
            registry=reg,
        )
        self.store_errors = Counter(
            "otpd_store_errors", "Requests failed by the database (503)", registry=reg
        )
        self.sealed = Gauge(
            "otpd_sealed",
            "1 while this instance is sealed",
            multiprocess_mode="mostrecent",
            registry=reg,
        )

    def emit(self, event: AuditEvent) -> None:
        """The services' events (otpd.core.audit.Events): one counter step each."""
        if event.action == "verify":
            api = current_context().api
            self.verifications.labels(api, event.tenant, event.outcome).inc()
            if event.offset is not None:
                self.offsets.labels(event.tenant).observe(event.offset)
        else:
            self.actions.labels(event.action, event.outcome).inc()
            if event.outcome == "ok" and event.action in ("seal", "unseal"):
                self.sealed.set(1 if event.action == "seal" else 0)

    def render(self, sealed: bool, throttled: dict[str, int] | None = None) -> tuple[bytes, str]:
        """The exposition text; `throttled` (credentials throttled or locked now, by tenant)
        is computed by the scrape itself, so it is a gauge of this moment that no worker's
        file holds and no sum over workers can double."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

        self.sealed.set(1 if sealed else 0)
        registry: Any = self.registry
        if os.environ.get(MULTIPROC_ENV):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            collector: Any = multiprocess.MultiProcessCollector  # untyped in the library
            collector(registry)
        body = generate_latest(registry)
        if throttled is not None:
            body += generate_latest(_ThrottledCredentials(throttled))
        return body, CONTENT_TYPE_LATEST


class _ThrottledCredentials:
    """A registry-like collector of one gauge, from counts taken at scrape time."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def collect(self) -> list[Any]:
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily(
            "otpd_throttled_credentials",
            "Credentials throttled or locked now (refused unevaluated), by tenant",
            labels=["tenant"],
        )
        for tenant, count in sorted(self.counts.items()):
            family.add_metric([tenant], count)
        return [family]


class RouteLatency:
    """The latency histogram per route template (pure ASGI, beside the access log)."""

    def __init__(self, app: ASGIApp, *, metrics: Callable[[], Metrics | None]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        metrics = self.metrics() if scope["type"] == "http" else None
        if metrics is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            metrics.latency.labels(route_of(scope), scope["method"]).observe(
                time.perf_counter() - started
            )


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics | None = getattr(request.app.state, "metrics", None)
    if metrics is None:
        return Response("metrics are off\n", status_code=404, media_type="text/plain")
    body, content_type = await run_in_threadpool(_scrape, metrics, request.app.state.runtime)
    return Response(body, media_type=content_type)


def _scrape(metrics: Metrics, runtime: Any) -> tuple[bytes, str]:
    return metrics.render(runtime.sealer.is_sealed(), throttled_now(runtime))


def throttled_now(runtime: Any) -> dict[str, int] | None:
    """Every tenant's count of credentials throttled or locked now (0 for none): one bounded
    COUNT over the credential table (docs/operations.md#metrics). None when the database
    cannot answer: the scrape still shows every other series."""
    store = runtime.store
    try:
        counts = {tenant.id: 0 for tenant in store.list_tenants()}
        counts.update(store.count_throttled(runtime.context.now()))
    except OtpdError:
        return None
    return counts


def serve_metrics_on(host: str, port: int) -> None:
    """/metrics on its own address (--metrics-listen), in a daemon thread of the process that
    supervises the workers: every worker's values, summed from the multiprocess directory."""
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    collector: Any = multiprocess.MultiProcessCollector  # untyped in the library
    collector(registry)
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as error:
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {error.strerror}") from None
