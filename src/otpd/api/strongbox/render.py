"""Strongbox responses: TOTP objects, `fields` filtering, ETags, JSON or YAML bodies."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import yaml
from starlette.responses import Response

from otpd.api.strongbox.parse import format_duration
from otpd.core.model import CredentialRecord

__all__ = [
    "etag",
    "filter_fields",
    "iso_time",
    "list_etag",
    "render",
    "state_view",
    "totp_config",
]


def iso_time(micros: int) -> str:
    """2022-01-13T07:48:38.327935Z, as in the vendor samples."""
    moment = datetime.fromtimestamp(micros / 1_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def totp_config(record: CredentialRecord, passcode32: str | None = None) -> dict[str, Any]:
    """The configuration leaves; `passcode32` only when the caller may see it (scope reveal)."""
    config: dict[str, Any] = {
        "name": record.name,
        "digits": record.params.digits,
        "algorithm": record.params.algorithm.value,
        "key-size": record.key_size,
        "period": format_duration(record.params.period),
        "issuer": record.issuer,
        "account-name": record.account_name,
        "skew": record.params.skew,
    }
    if passcode32 is not None:
        config["passcode32"] = passcode32
    return config


def etag(record: CredentialRecord) -> str:
    """Changes whenever the configuration or the secret changes, and with every write (the
    row version is what a conditional PUT/PATCH/DELETE compares and sets)."""
    digest = hashlib.sha256(f"{record.id}\0{record.version}\0".encode())
    digest.update(json.dumps(totp_config(record), sort_keys=True).encode())
    digest.update(hashlib.sha256(record.sealed_secret).digest())
    return '"' + digest.hexdigest()[:32] + '"'


def list_etag(records: Iterable[CredentialRecord]) -> str:
    """Changes whenever an entry is added, removed or changed."""
    digest = hashlib.sha256()
    for record in records:
        digest.update(f"{record.name}\0{etag(record)}\0".encode())
    return '"' + digest.hexdigest()[:32] + '"'


def state_view(config: dict[str, Any], state: dict[str, Any], content: str) -> dict[str, Any]:
    """RESTCONF `content` (RFC 8040 §4.8.1): config leaves, state leaves, or both; the list
    key `name` is in every view."""
    if content == "config":
        return config
    if content == "nonconfig":
        return {"name": config["name"], **state}
    return {**config, **state}


def filter_fields(obj: dict[str, Any], wanted: frozenset[str] | None) -> dict[str, Any]:
    """Keep the requested leaves (unknown names select nothing); the key `name` stays."""
    if wanted is None:
        return obj
    return {key: value for key, value in obj.items() if key in wanted or key == "name"}


# Plain scalars a YAML 1.2 reader would take as numbers (PyYAML follows 1.1 and leaves e.g.
# 089123 or 1e3 unquoted): quote them, so a code like "089123" stays a string everywhere.
_YAML12_NUMBER = re.compile(
    r"[-+]?(?:[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)"
)


class _Dumper(yaml.SafeDumper):
    pass


# PyYAML writes these raw, and a reader then takes NEL, LS and PS for line breaks: escape them.
_YAML_BREAKS = re.compile("[\x80-\x9f\u2028\u2029\ufeff]")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    quote = _YAML12_NUMBER.fullmatch(value) or _YAML_BREAKS.search(value)
    style = '"' if quote else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render(
    body: Any, *, yaml_out: bool, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    """JSON by default; YAML when the client asked for it (docs/api-strongbox.md)."""
    if yaml_out:
        text = yaml.dump(body, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
        return Response(text, status, headers, media_type="application/yaml")
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(raw, status, headers, media_type="application/json")
