"""Log set-up (docs/operations.md#logs): text or JSON lines on stderr, and optionally syslog.

Every record carries the request id, tenant and client of the request it belongs to (from
otpd.core.audit's request context), so the access line, the audit line and an error of one
request can be joined. A line never holds a secret, code, key, share or query string: the
messages are written that way (the access log gets a redacted path) and nothing here adds one.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import socket
import sys
import time

from otpd.core.audit import current_context
from otpd.core.errors import ConfigError

__all__ = ["JsonFormatter", "configure_logging"]

_TEXT = "%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s"
# Fields the access log passes as `extra` (otpd.web.middleware.AccessLog).
_EXTRA = ("route", "path", "method", "status", "duration_ms")


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        record.request_id = context.request_id
        record.tenant = context.tenant
        record.client = context.client
        record.source = context.source
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, request id, tenant, client,
    source, and for the access log route, method, status and duration."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "pid": record.process,
        }
        for name in ("request_id", "tenant", "client", "source", *_EXTRA):
            value = getattr(record, name, None)
            if value is not None and value != "-":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, separators=(",", ":"))


def _syslog_handler(target: str) -> logging.Handler:
    if target.startswith("udp://"):
        host, _, port = target.removeprefix("udp://").rpartition(":")
        if not host:
            host, port = port, "514"
        address: str | tuple[str, int] = (host.strip("[]"), int(port or "514"))
        handler = logging.handlers.SysLogHandler(address, socktype=socket.SOCK_DGRAM)
    else:
        handler = logging.handlers.SysLogHandler(target)
    handler.ident = "otpd: "
    return handler


def configure_logging(level: str, log_format: str = "text", syslog: str | None = None) -> None:
    # Record attributes no formatter here uses are not gathered for every line: the caller's
    # file and line (a walk up the stack), the thread's and the multiprocessing process's
    # names (https://docs.python.org/3/howto/logging.html#optimization). The process id stays.
    logging._srcfile = None
    logging.logThreads = False
    logging.logMultiprocessing = False
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(_TEXT)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if syslog is not None:
        try:
            handlers.append(_syslog_handler(syslog))
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot log to syslog at {syslog}: {error}") from None
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(_ContextFilter())
    logging.basicConfig(level=level.upper(), handlers=handlers, force=True)
