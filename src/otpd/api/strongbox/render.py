"""Strongbox responses: TOTP objects, `fields` filtering, ETags, JSON or YAML bodies."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import yaml
from starlette.responses import Response

from otpd.api.strongbox.parse import format_duration
from otpd.core.errors import InvalidInput
from otpd.core.model import CredentialRecord

__all__ = [
    "etag",
    "filter_fields",
    "iso_time",
    "render",
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
    """Changes whenever the configuration or the secret changes."""
    digest = hashlib.sha256(json.dumps(totp_config(record), sort_keys=True).encode())
    digest.update(hashlib.sha256(record.sealed_secret).digest())
    return '"' + digest.hexdigest()[:32] + '"'


def filter_fields(obj: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """RESTCONF-style `fields=a;b` (commas too); unknown names are left out; `name` stays."""
    if fields is None:
        return obj
    wanted = {part.strip() for part in fields.replace(",", ";").split(";") if part.strip()}
    if not wanted or len(fields) > 1024:
        raise InvalidInput("fields", "must list field names separated by ;")
    return {key: value for key, value in obj.items() if key in wanted or key == "name"}


def render(
    body: Any, *, yaml_out: bool, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    if yaml_out:
        text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
        return Response(text, status, headers, media_type="application/yaml")
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(raw, status, headers, media_type="application/json")
