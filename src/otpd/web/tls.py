"""Native TLS for `otpd serve --tls-cert --tls-key [--tls-client-ca]` (issue #6).

uvicorn terminates TLS but (as of 0.54) does not implement the ASGI TLS extension, so the app
cannot see the client certificate (Kludex/uvicorn#400, #1119, #3043 are still open or
closed unmerged). `TlsHttpProtocol` fills `scope["extensions"]["tls"]` itself, in the shape of
the ASGI TLS extension: `client_cert_chain` (the PEM leaf; CPython's ssl module gives no chain
before 3.13) and `client_cert_name` (its subject, in otpd.subjects' canonical RFC 4514 form).
The certificate is read once per connection, after the handshake, from the transport's
`ssl_object`; only certificates our context verified against `--tls-client-ca` get there,
because the context requires one (CERT_REQUIRED) and a failed verification aborts the
handshake.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from otpd.core.errors import ConfigError
from otpd.settings import Settings
from otpd.subjects import subject_of_der

__all__ = ["TlsHttpProtocol", "check_tls", "tls_answers", "tls_enabled", "uvicorn_tls_options"]

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_enabled(settings: Settings) -> bool:
    return settings.tls_cert is not None


def check_tls(settings: Settings) -> None:
    """Load the certificate, key and client CA once in the parent, so a wrong path or a key
    that does not match stops start-up with one line (not a crash loop of workers)."""
    if settings.tls_cert is None:
        if settings.tls_key is not None or settings.tls_client_ca is not None:
            raise ConfigError("--tls-key and --tls-client-ca need --tls-cert")
        return
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise ConfigError(f"cannot load TLS certificate/key: {_reason(error)}") from None
    if settings.tls_client_ca is not None:
        try:
            context.load_verify_locations(settings.tls_client_ca)
        except (OSError, ssl.SSLError) as error:
            raise ConfigError(f"cannot load TLS client CA: {_reason(error)}") from None


def _reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError):
        return str(error.reason or error)
    if isinstance(error, OSError) and error.strerror:
        return f"{error.strerror}: {error.filename}" if error.filename else error.strerror
    return type(error).__name__


def uvicorn_tls_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for uvicorn.Config: none without TLS."""
    if settings.tls_cert is None:
        return {}
    options: dict[str, Any] = {
        "ssl_certfile": str(settings.tls_cert),
        "ssl_keyfile": str(settings.tls_key) if settings.tls_key else None,
    }
    if settings.tls_client_ca is not None:
        options.update(
            ssl_ca_certs=str(settings.tls_client_ca),
            ssl_cert_reqs=ssl.CERT_REQUIRED,
            http=TlsHttpProtocol,
        )
    return options


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension's entry for this connection (None without TLS)."""
    ssl_object = transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)
    chain: list[str] = []
    name = None
    if der:
        chain = [ssl.DER_cert_to_PEM_cert(der)]
        try:
            name = subject_of_der(der)
        except ValueError:  # verified by OpenSSL but not parsed by cryptography: no subject
            name = None
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class TlsHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with this connection's TLS facts in every request scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        tls = tls_extension(transport)
        if tls is None:
            return
        app = self.app

        async def with_tls(scope: Any, receive: Any, send: Any) -> None:
            extensions = scope.setdefault("extensions", {})
            extensions["tls"] = dict(tls)  # a copy per request: the app may not change ours
            await app(scope, receive, send)

        self.app = with_tls


def tls_answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """Readiness over TLS: True once a worker answers a TLS handshake.

    The parent binds and listens before any worker runs, so a TCP connect proves nothing; only
    a worker (after its lifespan started) speaks TLS. With client certificates required we have
    none to offer, so the server's refusal (an alert) counts as an answer as much as a
    completed handshake does. Silence (a timeout) or a refused connection means "not yet".
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a liveness probe of our own socket
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return False
    with raw:
        try:
            context.wrap_socket(raw).close()  # the handshake
        except (TimeoutError, ConnectionRefusedError):
            return False
        except OSError:  # an alert (no client certificate) or a reset: a worker answered
            return True
    return True
