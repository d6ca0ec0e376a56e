"""Pure-ASGI middleware, one per concern, in the order otpd.web.app.create_app lists them
(outermost first): the request id and context, the access log, the metrics
(otpd.web.metrics), the last-resort 500, the head and body caps, the seal gate. Pure ASGI
rather than BaseHTTPMiddleware: no extra task per request.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable
from ipaddress import IPv4Network, IPv6Network

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from otpd.core.audit import RequestContext, current_context, request_context
from otpd.settings import Settings

__all__ = [
    "AccessLog",
    "BodyCap",
    "ErrorRenderer",
    "LastResort",
    "RequestId",
    "SealedGate",
    "redact_path",
    "route_of",
    "source_address",
]

access_log = logging.getLogger("otpd.access")
error_log = logging.getLogger("otpd.error")

# (status, message, ASGI scope) -> a response in the format of the API that owns the path
ErrorRenderer = Callable[[int, str, Scope], Response]

# Paths whose later segments are bearer capabilities (Token2 enrolment tickets, issue #5).
_CAPABILITY_PREFIXES = ("/qr/", "/ui/enrol/")  # + console enrolment links (issue #16)

# The header caps' defaults are the max_header_bytes and max_headers settings' (declared
# once, in otpd.settings): 32 KiB stays within nginx's default large_client_header_buffers
# (4 x 8k), the usual front of an otpd, so a request that passes the proxy passes here.
_DEFAULTS = Settings()

IPNetwork = IPv4Network | IPv6Network

_STATUS = "otpd.status"  # ASGI scope key: the response status, once started
_TRACKED = "otpd.tracked"  # ASGI scope key: an outer layer records the status


class BodyTooLarge(Exception):
    pass


def redact_path(path: str) -> str:
    """The path as it may be logged: no query string (never passed in), capability segments
    cut, and anything but printable ASCII escaped so one request stays one log record."""
    for prefix in _CAPABILITY_PREFIXES:
        if path.startswith(prefix):
            return prefix + "<redacted>"
    if path.isascii() and path.isprintable() and "\\" not in path and " " not in path:
        return path
    return "".join(
        c
        if " " < c < "\x7f" and c != "\\"
        else f"\\x{ord(c):02x}"
        if ord(c) < 256
        else f"\\u{ord(c):04x}"
        for c in path
    )


def route_of(scope: Scope) -> str:
    """The matched route's template (`/api/v1/.../{name}`), never the raw path: a bounded
    label set for metrics, and no credential name in it."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def source_address(scope: Scope, trusted: tuple[str, ...]) -> str:
    """The client address: the TCP peer, or, when the peer is a trusted proxy, the nearest
    X-Forwarded-For address that is not one (a client can prepend anything it likes)."""
    client = scope.get("client")
    peer = client[0] if client else "-"
    networks = _networks(trusted)

    def is_trusted(text: str) -> bool:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            return False
        return any(address in network for network in networks)

    if not networks or not is_trusted(peer):
        return peer
    forwarded = ",".join(Headers(scope=scope).getlist("x-forwarded-for"))
    for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
        if not is_trusted(hop):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # a malformed entry: not believed
    return peer


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    """The trusted proxies' networks, parsed once per setting rather than per request."""
    return tuple(ipaddress.ip_network(n) for n in trusted)


def _track_status(scope: Scope, send: Send) -> Send:
    """`send`, recording the response status in the scope. Once per request: a layer inside
    one that tracks already sees the status, set while its own send is passed on outwards."""
    if scope.get(_TRACKED):
        return send
    scope[_TRACKED] = True

    async def tracking(message: Message) -> None:
        if message["type"] == "http.response.start":
            scope[_STATUS] = message["status"]
        await send(message)

    return tracking


class RequestId:
    """Gives the request an id (the `x-request-id` header) and the context the services'
    events and the log lines carry (otpd.core.audit.RequestContext)."""

    def __init__(
        self, app: ASGIApp, *, trusted_proxies: tuple[str, ...], api_of: Callable[[str], str]
    ) -> None:
        self.app = app
        self.trusted_proxies = trusted_proxies
        self.api_of = api_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        context = RequestContext(
            request_id=request_id,
            source=source_address(scope, self.trusted_proxies),
            api=self.api_of(scope["path"]),
        )

        scope[_TRACKED] = True  # send_with_id records the status for every layer inside

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                scope[_STATUS] = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        with request_context(context):
            await self.app(scope, receive, send_with_id)


class AccessLog:
    """One line per request: no query string, `/qr/` paths cut (docs/operations.md#logs)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, _track_status(scope, send))
        finally:
            duration_ms = (time.perf_counter() - started) * 1000
            context = current_context()
            status = scope.get(_STATUS, 0)
            path = redact_path(scope["path"])
            access_log.info(
                "%s %s %s %d %.1fms request_id=%s",
                context.source,
                scope["method"],
                path,
                status,
                duration_ms,
                context.request_id,
                extra={
                    "route": route_of(scope),
                    "path": path,
                    "method": scope["method"],
                    "status": status,
                    "duration_ms": round(duration_ms, 2),
                },
            )


class LastResort:
    """An exception nothing else handled becomes a fixed 500 in the API's format with the
    request id; the traceback goes to the log, never the exception's text to the client."""

    def __init__(self, app: ASGIApp, *, render_error: ErrorRenderer) -> None:
        self.app = app
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, _track_status(scope, send))
        except ClientDisconnect:
            # The client went away mid-request (a load generator stopping, a closed tab):
            # nothing to answer and nothing wrong on our side.
            access_log.info("client disconnected request_id=%s", current_context().request_id)
        except Exception:
            request_id = current_context().request_id
            error_log.exception(
                "unhandled error request_id=%s path=%s", request_id, redact_path(scope["path"])
            )
            if _STATUS not in scope:
                message = f"internal error (request id {request_id})"
                await self.render_error(500, message, scope)(scope, receive, send)


class BodyCap:
    """Refuses a head over the header caps (431) or a declared body over the cap (413), and
    caps a streamed body while it arrives (413)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        render_error: ErrorRenderer,
        max_body_bytes: int,
        max_header_bytes: int = _DEFAULTS.max_header_bytes,
        max_headers: int = _DEFAULTS.max_headers,
    ) -> None:
        self.app = app
        self.render_error = render_error
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        early = self._refuse_early(scope)
        if early is not None:
            await early(scope, receive, send)
            return
        try:
            await self.app(scope, self._capped(receive), _track_status(scope, send))
        except BodyTooLarge:
            if _STATUS not in scope:
                await self.render_error(413, "request body too large", scope)(scope, receive, send)

    def _refuse_early(self, scope: Scope) -> Response | None:
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if header_bytes > self.max_header_bytes or len(scope["headers"]) > self.max_headers:
            # Exact here; web/protocol.py already cut a head far over the cap while it arrived.
            return self.render_error(431, "request headers too large", scope)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            status = 413 if length.isdigit() else 400
            return self.render_error(status, "request body too large or bad length", scope)
        return None

    def _capped(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def capped_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return message

        return capped_receive


class SealedGate:
    """Every vendor path answers its API's 503 while this process is sealed, before any
    routing or parsing (docs/requirements.md#sealed)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        render_error: ErrorRenderer,
        is_sealed: Callable[[], bool],
        sealed_gate: Callable[[str], bool],
    ) -> None:
        self.app = app
        self.render_error = render_error
        self.is_sealed = is_sealed
        self.sealed_gate = sealed_gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.sealed_gate(scope["path"]) and self.is_sealed():
            await self.render_error(503, "strongbox sealed", scope)(scope, receive, send)
            return
        await self.app(scope, receive, send)
