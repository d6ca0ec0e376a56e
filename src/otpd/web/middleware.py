"""Pure-ASGI middleware: request ids, the body cap, the seal gate, the access log and the
last-resort handler. Pure ASGI rather than BaseHTTPMiddleware: no extra task per request.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ErrorRenderer", "OtpdMiddleware", "redact_path"]

access_log = logging.getLogger("otpd.access")
error_log = logging.getLogger("otpd.error")

# (status, message, ASGI scope) -> a response in the format of the API that owns the path
ErrorRenderer = Callable[[int, str, Scope], Response]

# Paths whose later segments are bearer capabilities (Token2 enrolment tickets, issue #5).
_CAPABILITY_PREFIXES = ("/qr/", "/ui/enrol/")  # + console enrolment links (issue #16)


# Defaults of the max_header_bytes and max_headers settings. nginx's default
# large_client_header_buffers (4 x 8k) is the usual front of an otpd; stay within it so a
# request that passes the proxy passes here.
MAX_HEADER_BYTES = 32 * 1024
MAX_HEADERS = 100


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


class OtpdMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        render_error: ErrorRenderer,
        max_body_bytes: int,
        is_sealed: Callable[[], bool],
        sealed_gate: Callable[[str], bool],
        max_header_bytes: int = MAX_HEADER_BYTES,
        max_headers: int = MAX_HEADERS,
    ) -> None:
        self.app = app
        self.render_error = render_error
        self.max_body_bytes = max_body_bytes
        self.is_sealed = is_sealed
        self.sealed_gate = sealed_gate
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = secrets.token_hex(8)
        scope.setdefault("state", {})["request_id"] = request_id
        path: str = scope["path"]
        started = time.perf_counter()
        status = 0
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            early = self._refuse_early(scope, path)
            if early is not None:
                await early(scope, receive, send_with_id)
            else:
                await self.app(scope, self._capped(receive), send_with_id)
        except ClientDisconnect:
            # The client went away mid-request (a load generator stopping, a closed tab):
            # nothing to answer and nothing wrong on our side.
            access_log.info("client disconnected request_id=%s", request_id)
        except BodyTooLarge:
            if not response_started:
                await self.render_error(413, "request body too large", scope)(
                    scope, receive, send_with_id
                )
        except Exception:
            # Last resort (DESIGN habit 4): a fixed body, never the exception's text.
            error_log.exception(
                "unhandled error request_id=%s path=%s", request_id, redact_path(path)
            )
            if not response_started:
                await self.render_error(500, f"internal error (request id {request_id})", scope)(
                    scope, receive, send_with_id
                )
        finally:
            client = scope.get("client")
            access_log.info(
                "%s %s %s %d %.1fms request_id=%s",
                client[0] if client else "-",
                scope["method"],
                redact_path(path),
                status,
                (time.perf_counter() - started) * 1000,
                request_id,
            )

    def _refuse_early(self, scope: Scope, path: str) -> Response | None:
        header_bytes = sum(len(name) + len(value) for name, value in scope["headers"])
        if header_bytes > self.max_header_bytes or len(scope["headers"]) > self.max_headers:
            # Exact here; web/protocol.py already cut a head far over the cap while it arrived.
            return self.render_error(431, "request headers too large", scope)
        length = Headers(scope=scope).get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            status = 413 if length.isdigit() else 400
            return self.render_error(status, "request body too large or bad length", scope)
        if self.sealed_gate(path) and self.is_sealed():
            return self.render_error(503, "strongbox sealed", scope)
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
