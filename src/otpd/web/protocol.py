"""uvicorn's httptools protocol with otpd's request limits enforced while the bytes arrive.

httptools (llhttp) has no size limit of its own and buffers a header line until it ends, and
uvicorn only times out idle keep-alive connections (any byte resets that timer). So an
outsider could make a worker buffer a 200 MB header, hold a connection open with one byte
every few seconds, or stream a body forever. `LimitedHttpProtocol` bounds all of it, before
the app sees the request (docs/security.md, docs/settings.md):

- URL over max_url_bytes: 414; headers over max_header_bytes or max_headers: 431. Counted in
  the parser callbacks and, for a header line httptools is still buffering, by the bytes fed
  while the head is incomplete, so at most one socket read (256 KiB) past the cap is ever held.
- A head not complete within header_timeout of the connection opening or the previous
  response ending: 408 (or a silent close when nothing was sent: an idle keep-alive).
- A body not complete within body_timeout of its head: 408. A body over max_body_bytes: 413
  as it streams, whether or not the app reads it.
- More than max_connections open connections in this worker: 503 for the new request.

Every refusal is answered in the format of the API that owns the path (web.app.render_error)
with `Connection: close`, and the connection is closed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from otpd.settings import Settings
from otpd.web.middleware import ErrorRenderer

__all__ = ["HttpLimits", "LimitedHttpProtocol", "limited_protocol"]


@dataclass(frozen=True)
class HttpLimits:
    """The connection-level caps; their defaults are the settings' (otpd.settings), so they
    are declared there only."""

    max_url_bytes: int
    max_header_bytes: int
    max_headers: int
    max_body_bytes: int
    header_timeout: float
    body_timeout: float
    max_connections: int

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            max_url_bytes=settings.max_url_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
            max_body_bytes=settings.max_body_bytes,
            header_timeout=float(settings.header_timeout),
            body_timeout=float(settings.body_timeout),
            max_connections=settings.max_connections,
        )


LINGER_SECONDS = 2.0


class _Refuse(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LimitedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits] = HttpLimits.from_settings(Settings())
    renderers: ClassVar[tuple[ErrorRenderer, ...]] = ()  # a tuple: a bare function would bind

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = b""
        self._in_head = True  # between requests, or reading a head
        self._begun = False  # a head has started (on_message_begin) and not completed
        self._head_bytes = 0  # complete header lines, from the callbacks
        self._fed_bytes = 0  # whole reads fed while a started head stayed incomplete
        self._header_count = 0
        self._body_bytes = 0
        self._declared_too_long = False  # a Content-Length header over max_body_bytes
        self._timer: asyncio.TimerHandle | None = None
        self._refused = False

    # --- timers -----------------------------------------------------------------------------
    def _arm(self, seconds: float, status: int, message: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, status, message)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, status: int, message: str) -> None:
        self._timer = None
        if status == 408 and self._in_head and not self._begun:
            self._close()  # an idle connection: nothing to answer
        else:
            self._refuse(status, message)

    # --- asyncio.Protocol -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout, 408, "request header timeout")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._refused = True
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """uvicorn's, with our refusals: a callback's _Refuse comes out of httptools as the
        context of an HttpParserCallbackError, which uvicorn would answer as a plain 400."""
        if self._refused:
            return
        self._unset_keepalive_if_required()
        started_before = self._in_head and self._begun
        try:
            self.parser.feed_data(data)
            # The whole read was head bytes that httptools may still hold in its own buffer.
            if started_before and self._in_head and self._begun:
                self._fed_bytes += len(data)
                self._check_head()
        except _Refuse as refusal:
            self._refuse(refusal.status, refusal.message)
        except httptools.HttpParserCallbackError as error:
            if not isinstance(error.__context__, _Refuse):
                raise
            self._refuse(error.__context__.status, error.__context__.message)
        except httptools.HttpParserError:
            self.logger.warning("Invalid HTTP request received.")
            self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    # --- httptools callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._begun = True
        self._in_head = True
        self._head_bytes = self._fed_bytes = self._header_count = self._body_bytes = 0
        self._declared_too_long = False

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            raise _Refuse(414, "request URL too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_bytes += len(name) + len(value)
        self._header_count += 1
        self._check_head()
        # Checked per header as it arrives (O(1) per callback), answered in on_headers_complete.
        if len(name) == 14 and name.lower() == b"content-length":
            length = value.strip()
            if length.isdigit() and int(length) > self.limits.max_body_bytes:
                self._declared_too_long = True

    def on_headers_complete(self) -> None:
        self._disarm()
        if len(self.connections) > self.limits.max_connections:
            raise _Refuse(503, "too many connections")
        # A declared length over the cap is answered here, with Connection: close, so the
        # client does not reuse a connection whose unread body we are about to cut.
        if self._declared_too_long:
            raise _Refuse(413, "request body too large")
        self._in_head = self._begun = False
        super().on_headers_complete()
        self._arm(self.limits.body_timeout, 408, "request body timeout")

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self.limits.max_body_bytes:
            raise _Refuse(413, "request body too large")
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._disarm()
        self._in_head = True
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Waiting for the next head again, unless a pipelined request is now being served.
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self._in_head and not self.transport.is_closing() and not self._refused:
            self._arm(self.limits.header_timeout, 408, "request header timeout")

    # --- refusing ---------------------------------------------------------------------------
    def _check_head(self) -> None:
        limits = self.limits
        if (
            self._head_bytes > limits.max_header_bytes
            or self._fed_bytes > limits.max_header_bytes + limits.max_url_bytes
            or self._header_count > limits.max_headers
        ):
            raise _Refuse(431, "request headers too large")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` unless a response already started, then close the connection."""
        if self._refused:
            return
        self._refused = True
        self._disarm()
        cycle = self.cycle  # while a head is read: the previous request's, if any
        busy = cycle is not None and not cycle.response_complete
        # A refused head is answered unless an earlier (pipelined) request's answer is still
        # due; a refused body unless its own answer already started.
        in_body = cycle is not None and not self._in_head
        if (not busy) if self._in_head else (in_body and not cycle.response_started):
            self.transport.write(self._response(status, message))
        if busy:
            # The app gets http.disconnect from receive() and its sends are dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        self._linger()

    def _linger(self) -> None:
        """Close after the client had a moment to read the answer. Closing a socket with unread
        input sends a reset, which can destroy the answer in the client's buffer while it is
        still sending (nginx's lingering_close): so stop writing, discard what still comes
        (data_received drops it), and close at the client's EOF or after LINGER_SECONDS."""
        if self.transport.is_closing():
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self._timer = self.loop.call_later(LINGER_SECONDS, self._close)

    def eof_received(self) -> None:
        if self._refused:
            self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def _response(self, status: int, message: str) -> bytes:
        # The query too: Token2 answers in the format its `format` parameter asks for.
        path, _, query = self.url.partition(b"?")
        scope: dict[str, Any] = {
            "type": "http",
            "path": path.decode("latin-1"),
            "headers": [],
            "query_string": query,
        }
        response = self.renderers[0](status, message, scope) if self.renderers else None
        body = response.body if response is not None else message.encode()
        headers = [
            (name, value)
            for name, value in (response.raw_headers if response is not None else [])
            if name not in (b"content-length", b"connection")
        ]
        if status == 503:
            headers.append((b"retry-after", b"1"))
        lines = [STATUS_LINE[status]]
        lines += [name + b": " + value + b"\r\n" for name, value in headers]
        lines.append(b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        return b"".join(lines) + bytes(body)


def limited_protocol(
    limits: HttpLimits, render: ErrorRenderer, base: type[HttpToolsProtocol] = HttpToolsProtocol
) -> type[LimitedHttpProtocol]:
    """The protocol class for uvicorn.Config(http=...): these limits, errors rendered by
    `render`, on top of `base` (web.tls.TlsHttpProtocol when client certificates are used)."""
    bases = (LimitedHttpProtocol,) if base is HttpToolsProtocol else (LimitedHttpProtocol, base)
    return type("OtpdHttpProtocol", bases, {"limits": limits, "renderers": (render,)})
