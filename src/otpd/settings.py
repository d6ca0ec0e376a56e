"""Every setting declared once: name, type, default, help, whether it is a secret.

Values come from (lowest to highest priority) the defaults, an optional YAML file
(`--config` / `OTPD_CONFIG`), `OTPD_*` environment variables and command-line flags.
An unknown key or a bad value stops start-up with the key's name: a typo must not leave a
default silently in force.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any

import yaml

from otpd.core.errors import ConfigError

__all__ = ["SETTINGS", "Setting", "Settings", "env_name", "load_settings", "mask_url"]


@dataclass(frozen=True)
class Setting:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise ValueError("must be 0-65535")
    return value


def _workers(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 64:
        raise ValueError("must be 1-64")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be a positive integer")
    return value


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError("must be one of " + ", ".join(allowed))
        return text

    return parse


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return text.rstrip("/")


def _networks(text: str) -> tuple[str, ...]:
    """A comma list of IP addresses or CIDR networks, normalised ("10.0.0.1/32")."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    try:
        return tuple(str(ipaddress.ip_network(item, strict=False)) for item in items)
    except ValueError:
        raise ValueError("must be a comma list of IP addresses or CIDR networks") from None


def _header_name(text: str) -> str:
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", text):
        raise ValueError("must be an HTTP header name")
    return text


def _probability(text: str) -> Fraction:
    # Exact decimal arithmetic: floor(p * 10**digits / window) must not lose a guess to rounding.
    value = Fraction(text.strip())
    if not 0 < value < 1:
        raise ValueError("must be a probability between 0 and 1, such as 0.0003")
    return value


def _udp_listen(text: str) -> tuple[str, int]:
    """`ADDR:PORT`, `ADDR` (port 1812, RFC 2865 §3) or `[V6ADDR]:PORT`."""
    host, sep, port = text.rpartition(":")
    if text.startswith("[") and "]" in text:
        host, _, rest = text[1:].partition("]")
        port = rest.removeprefix(":") or "1812"
    elif not sep or host.count(":"):
        host, port = text, "1812"  # a bare IPv4/IPv6 address
    ipaddress.ip_address(host)  # ValueError: must be an IP address
    return host, _port(port)


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
        raise ValueError("must be true or false")
    return lowered in ("true", "1", "yes", "on")


def _syslog_target(text: str) -> str:
    if text.startswith("udp://") or text.startswith("/"):
        return text
    raise ValueError("must be a socket path such as /dev/log or udp://HOST[:PORT]")


def _tcp_listen(text: str) -> tuple[str, int]:
    """`ADDR:PORT` or `[V6ADDR]:PORT`."""
    host, sep, port = text.rpartition(":")
    if not sep:
        raise ValueError("must be ADDR:PORT")
    host = host.removeprefix("[").removesuffix("]")
    ipaddress.ip_address(host)  # ValueError: must be an IP address
    return host, _port(port)


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: parse(text) if text else None


def _setting(default: Any, parse: Callable[[str], Any], help: str, *, secret: bool = False) -> Any:
    """A Settings field carrying its own declaration (dataclasses.field metadata)."""
    return field(default=default, metadata={"parse": parse, "help": help, "secret": secret})


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***: what logs and errors may show."""
    url = re.sub(r"(?<=://)([^/@:]*):[^/@]*@", r"\1:***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", url)


def env_name(name: str) -> str:
    return "OTPD_" + name.upper()


@dataclass(frozen=True)
class Settings:
    """Every setting, declared once: the field's name and type, then its default, its parser
    (text from a flag, a variable or the YAML file), its help and whether it is a secret.
    SETTINGS, the OTPD_* variables, the command-line flags and their help derive from this."""

    data_dir: Path = _setting(
        Path("otpd-data"), Path, "data directory: seal key file and SQLite database"
    )
    database: str | None = _setting(
        None, _optional(str), "database URL; default: SQLite inside the data directory"
    )
    database_pool_size: int = _setting(
        10, _positive, "PostgreSQL: most connections each server process keeps (docs/scale-out.md)"
    )
    database_statement_timeout: int = _setting(
        5,
        _positive,
        "PostgreSQL: seconds a statement, a connection or a pool wait may take before 503",
    )
    host: str = _setting("127.0.0.1", str, "address to listen on")
    port: int = _setting(8080, _port, "port to listen on; 0 picks a free port")
    workers: int = _setting(1, _workers, "server processes sharing the data directory")
    pin_workers: bool = _setting(False, _bool, "run each server process on one CPU of its own")
    public_url: str | None = _setting(
        None, _optional(_url), "base URL clients use; default http://HOST:PORT"
    )
    url: str = _setting("http://127.0.0.1:8080", _url, "URL of a running server (seal, unseal)")
    key: str | None = _setting(
        None, _optional(str), "API key for `otpd seal` (scope seal)", secret=True
    )
    sqlite_synchronous: str = _setting(
        "FULL",
        _choice("FULL", "NORMAL"),
        "SQLite synchronous mode: FULL survives power loss, NORMAL only crashes",
    )
    max_body_bytes: int = _setting(65536, _positive, "largest request body accepted (413 past it)")
    max_url_bytes: int = _setting(8192, _positive, "longest request URL accepted (414 past it)")
    max_header_bytes: int = _setting(
        32768, _positive, "largest request head accepted (431 past it)"
    )
    max_headers: int = _setting(100, _positive, "most request header lines accepted (431 past it)")
    header_timeout: int = _setting(
        10, _positive, "seconds to receive a request head; idle keep-alive too"
    )
    body_timeout: int = _setting(10, _positive, "seconds to receive a request body after its head")
    max_connections: int = _setting(
        512, _positive, "open connections per worker; past it 503 (Retry-After)"
    )
    strongbox_label_prefix: str = _setting(
        "Sbox", str, "otpauth label prefix; 'issuer' uses the issuer"
    )
    site: str = _setting("local", str, "Strongbox site name this server answers for")
    throttle_free_failures: int = _setting(
        5, _positive, "consecutive failures before backoff starts"
    )
    throttle_base_delay: int = _setting(1, _positive, "first backoff delay in seconds (doubles)")
    throttle_max_delay: int = _setting(900, _positive, "longest backoff delay in seconds")
    guess_limit: int = _setting(
        100,
        _positive,
        "consecutive failures after which a credential refuses every code until reset",
    )
    guess_probability: Fraction | None = _setting(
        None,
        _optional(_probability),
        "derive the guess limit per credential from this target success probability instead",
    )
    guess_lock_timeout: int | None = _setting(
        None,
        _optional(_positive),
        "seconds after which a spent guess budget allows one more try; default: never",
    )
    log_level: str = _setting("info", _choice("debug", "info", "warning", "error"), "log level")
    log_format: str = _setting(
        "text", _choice("text", "json"), "log line format: text, or json (one object per line)"
    )
    syslog: str | None = _setting(
        None,
        _optional(_syslog_target),
        "also log to syslog: a socket path (/dev/log) or udp://HOST[:PORT]",
    )
    metrics: bool = _setting(True, _bool, "serve Prometheus metrics at /metrics")
    metrics_listen: tuple[str, int] | None = _setting(
        None,
        _optional(_tcp_listen),
        "serve /metrics on this ADDR:PORT instead of the main port",
    )
    audit_retention_days: int | None = _setting(
        None,
        _optional(_positive),
        "days the audit trail keeps entries (pruned every few minutes); default: forever",
    )
    tls_cert: Path | None = _setting(
        None, _optional(Path), "TLS certificate chain (PEM); serve HTTPS"
    )
    tls_key: Path | None = _setting(
        None, _optional(Path), "TLS private key (PEM); default: in tls_cert"
    )
    tls_client_ca: Path | None = _setting(
        None,
        _optional(Path),
        "CA certificates (PEM) for client certificates; when set, every client must present one",
    )
    trusted_proxies: tuple[str, ...] = _setting(
        (), _networks, "comma list of proxy addresses/CIDRs whose client_cert_header is believed"
    )
    client_cert_header: str = _setting(
        "X-SSL-Client-S-DN",
        _header_name,
        "request header a trusted proxy puts the verified client certificate subject in",
    )
    radius_listen: tuple[str, int] | None = _setting(
        None,
        _optional(_udp_listen),
        "serve RADIUS on this UDP ADDR[:PORT] (default port 1812); off unless given",
    )

    def __repr__(self) -> str:
        shown = {
            f.name: "***"
            if _BY_NAME[f.name].secret and getattr(self, f.name)
            else getattr(self, f.name)
            for f in fields(self)
        }
        shown["database"] = mask_url(self.database) if self.database else None
        return f"Settings({shown})"


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.metadata["parse"], f.default, f.metadata["help"], f.metadata["secret"])
    for f in fields(Settings)
)
_BY_NAME = {s.name: s for s in SETTINGS}


def _parse(name: str, raw: object, source: str) -> Any:
    setting = _BY_NAME.get(name)
    if setting is None:
        raise ConfigError(f"unknown setting {name!r} in {source}")
    if raw is None:
        return setting.default
    try:
        return setting.parse(str(raw))
    except (ValueError, TypeError) as error:
        # Secrets are never echoed; other values are short and help the operator.
        shown = "" if setting.secret else f" {str(raw)[:80]!r}"
        raise ConfigError(f"bad value{shown} for {name} ({source}): {error}") from None


def load_settings(
    flags: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge defaults < config file < OTPD_* variables < flags (flags given as None are unset)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    file_path = config_file or (
        Path(environ["OTPD_CONFIG"]) if environ.get("OTPD_CONFIG") else None
    )
    if file_path is not None:
        try:
            loaded = yaml.safe_load(file_path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(
                f"cannot read config file {file_path}: {type(error).__name__}"
            ) from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {file_path} must hold a mapping of settings")
        for key, raw in loaded.items():
            name = str(key).replace("-", "_")
            values[name] = _parse(name, raw, str(file_path))
    for name in _BY_NAME:
        if env_name(name) in environ:
            values[name] = _parse(name, environ[env_name(name)], env_name(name))
    for name, raw in (flags or {}).items():
        if raw is not None:
            values[name] = _parse(name, raw, "--" + name.replace("_", "-"))
    return Settings(**values)
