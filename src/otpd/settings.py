"""Every setting declared once: name, type, default, help, whether it is a secret.

Values come from (lowest to highest priority) the defaults, an optional YAML file
(`--config` / `OTPD_CONFIG`), `OTPD_*` environment variables and command-line flags.
An unknown key or a bad value stops start-up with the key's name (DESIGN habit 7).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
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


def _optional(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    return lambda text: parse(text) if text else None


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "data_dir", Path, Path("otpd-data"), "data directory: seal key file and SQLite database"
    ),
    Setting(
        "database", _optional(str), None, "database URL; default: SQLite inside the data directory"
    ),
    Setting(
        "database_pool_size",
        _positive,
        10,
        "PostgreSQL: most connections each server process keeps (docs/scale-out.md)",
    ),
    Setting(
        "database_statement_timeout",
        _positive,
        5,
        "PostgreSQL: seconds a statement, a connection or a pool wait may take before 503",
    ),
    Setting("host", str, "127.0.0.1", "address to listen on"),
    Setting("port", _port, 8080, "port to listen on; 0 picks a free port"),
    Setting("workers", _workers, 1, "server processes sharing the data directory"),
    Setting("public_url", _optional(_url), None, "base URL clients use; default http://HOST:PORT"),
    Setting("url", _url, "http://127.0.0.1:8080", "URL of a running server (seal, unseal)"),
    Setting("key", _optional(str), None, "API key for `otpd seal` (scope seal)", secret=True),
    Setting(
        "sqlite_synchronous",
        _choice("FULL", "NORMAL"),
        "FULL",
        "SQLite synchronous mode: FULL survives power loss (R21), NORMAL only crashes",
    ),
    Setting("max_body_bytes", _positive, 65536, "largest request body accepted (R41)"),
    Setting("max_url_bytes", _positive, 8192, "longest request URL accepted (414 past it)"),
    Setting("max_header_bytes", _positive, 32768, "largest request head accepted (431 past it)"),
    Setting("max_headers", _positive, 100, "most request header lines accepted (431 past it)"),
    Setting(
        "header_timeout", _positive, 10, "seconds to receive a request head; idle keep-alive too"
    ),
    Setting("body_timeout", _positive, 10, "seconds to receive a request body after its head"),
    Setting(
        "max_connections", _positive, 512, "open connections per worker; past it 503 (Retry-After)"
    ),
    Setting(
        "strongbox_label_prefix", str, "Sbox", "otpauth label prefix; 'issuer' uses the issuer"
    ),
    Setting("site", str, "local", "Strongbox site name this server answers for"),
    Setting("throttle_free_failures", _positive, 5, "consecutive failures before backoff starts"),
    Setting("throttle_base_delay", _positive, 1, "first backoff delay in seconds (doubles)"),
    Setting("throttle_max_delay", _positive, 900, "longest backoff delay in seconds"),
    Setting(
        "guess_limit",
        _positive,
        100,
        "consecutive failures after which a credential refuses every code until reset",
    ),
    Setting(
        "guess_probability",
        _optional(_probability),
        None,
        "derive the guess limit per credential from this target success probability instead",
    ),
    Setting(
        "guess_lock_timeout",
        _optional(_positive),
        None,
        "seconds after which a spent guess budget allows one more try; default: never",
    ),
    Setting("log_level", _choice("debug", "info", "warning", "error"), "info", "log level"),
    Setting("tls_cert", _optional(Path), None, "TLS certificate chain (PEM); serve HTTPS"),
    Setting("tls_key", _optional(Path), None, "TLS private key (PEM); default: in tls_cert"),
    Setting(
        "tls_client_ca",
        _optional(Path),
        None,
        "CA certificates (PEM) for client certificates; when set, every client must present one",
    ),
    Setting(
        "trusted_proxies",
        _networks,
        (),
        "comma list of proxy addresses/CIDRs whose client_cert_header is believed",
    ),
    Setting(
        "client_cert_header",
        _header_name,
        "X-SSL-Client-S-DN",
        "request header a trusted proxy puts the verified client certificate subject in",
    ),
    Setting(
        "radius_listen",
        _optional(_udp_listen),
        None,
        "serve RADIUS on this UDP ADDR[:PORT] (default port 1812); off unless given",
    ),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def mask_url(url: str) -> str:
    """The URL with any password replaced by ***: what logs and errors may show."""
    url = re.sub(r"(?<=://)([^/@:]*):[^/@]*@", r"\1:***@", url)
    return re.sub(r"(?i)(password=)[^&\s]*", r"\1***", url)


def env_name(name: str) -> str:
    return "OTPD_" + name.upper()


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("otpd-data")
    database: str | None = None
    database_pool_size: int = 10
    database_statement_timeout: int = 5
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    public_url: str | None = None
    url: str = "http://127.0.0.1:8080"
    key: str | None = None
    sqlite_synchronous: str = "FULL"
    max_body_bytes: int = 65536
    max_url_bytes: int = 8192
    max_header_bytes: int = 32768
    max_headers: int = 100
    header_timeout: int = 10
    body_timeout: int = 10
    max_connections: int = 512
    strongbox_label_prefix: str = "Sbox"
    site: str = "local"
    throttle_free_failures: int = 5
    throttle_base_delay: int = 1
    throttle_max_delay: int = 900
    guess_limit: int = 100
    guess_probability: Fraction | None = None
    guess_lock_timeout: int | None = None
    log_level: str = "info"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    trusted_proxies: tuple[str, ...] = ()
    client_cert_header: str = "X-SSL-Client-S-DN"
    radius_listen: tuple[str, int] | None = None

    def __repr__(self) -> str:
        shown = {
            f.name: "***"
            if _BY_NAME[f.name].secret and getattr(self, f.name)
            else getattr(self, f.name)
            for f in fields(self)
        }
        shown["database"] = mask_url(self.database) if self.database else None
        return f"Settings({shown})"


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
