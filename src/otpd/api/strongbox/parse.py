"""Strongbox requests -> typed values: bodies (JSON or YAML), field rules, durations, queries.

Errors are InvalidInput naming the field and the rule; values are never echoed
(docs/requirements.md#strict-encodings).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import jsonpatch
import yaml
from starlette.requests import Request

from otpd.api.common import no_duplicate_keys
from otpd.api.strongbox.yaml_body import load_yaml
from otpd.core.errors import InvalidInput
from otpd.core.model import Algorithm, CredentialSpec, OtpParams, SecretBytes
from otpd.core.provisioning import b32decode_strict

__all__ = [
    "CONFIG_FIELDS",
    "Body",
    "apply_patch",
    "format_duration",
    "parse_body",
    "parse_content",
    "parse_duration",
    "parse_fields",
    "spec_from_fields",
    "wants_yaml",
]

CONFIG_FIELDS = (
    "name",
    "digits",
    "algorithm",
    "key-size",
    "period",
    "issuer",
    "account-name",
    "skew",
    "passcode32",
)
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
JSON_PATCH_TYPE = "application/json-patch+json"
# [0-9], not \d: \d also matches non-ASCII digits, which int() would then happily read.
_DURATION = re.compile(
    r"(?:([0-9]{1,6})y)?(?:([0-9]{1,6})d)?(?:([0-9]{1,6})h)?(?:([0-9]{1,6})m)?(?:([0-9]{1,9})s)?"
)
_UNITS = (365 * 86400, 86400, 3600, 60, 1)


@dataclass(frozen=True)
class Body:
    value: Any
    json_patch: bool
    present: bool = True  # False: the request had no body (not even `null`)


def parse_body(raw: bytes, media: str, required: bool = True) -> Body:
    """JSON for application/json, YAML for the YAML types; with no type, JSON then YAML.
    Called in the worker thread (context.RawBody): even bounded parsing of a body at the cap
    is milliseconds of CPU that must not stall every other request on the event loop."""
    if not raw.strip():
        if required:
            raise InvalidInput("body", "is required")
        return Body(None, False, present=False)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("body", "must be UTF-8") from None
    if media in YAML_TYPES:
        return Body(_load_yaml(text), False)
    if media in ("application/json", JSON_PATCH_TYPE):
        return Body(_load_json(text), media == JSON_PATCH_TYPE)
    if media not in ("", "text/plain", "application/octet-stream"):
        raise InvalidInput("content-type", "must be application/json or a YAML type")
    try:
        return Body(_load_json(text), False)
    except InvalidInput:
        return Body(_load_yaml(text), False)


def _load_json(text: str) -> Any:
    try:
        return json.loads(text, object_pairs_hook=no_duplicate_keys)
    except (ValueError, RecursionError):
        raise InvalidInput("body", "is not valid JSON") from None


def _load_yaml(text: str) -> Any:
    try:
        return load_yaml(text)
    # ValueError: a scalar that matches a YAML type but does not convert (a timestamp of
    # month 13, an integer of more than sys.get_int_max_str_digits() digits).
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError):
        raise InvalidInput("body", "is not valid YAML") from None


def wants_yaml(request: Request) -> bool:
    """YAML only when the best Accept match is a YAML type; JSON otherwise
    (docs/api-strongbox.md)."""
    best: tuple[float, str] = (0.0, "")
    for part in request.headers.get("accept", "").split(","):
        media, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > best[0]:
            best = (quality, media.strip().lower())
    return best[1] in YAML_TYPES


def parse_duration(value: object, field: str = "period") -> int:
    """[<n>y][<n>d][<n>h][<n>m][<n>s] -> seconds (m is minutes, y is 365 days)."""
    if type(value) is int and value > 0:
        return value
    if not isinstance(value, str) or not value or not (match := _DURATION.fullmatch(value)):
        raise InvalidInput(field, "must be a duration like 30s, 1m30s or 1h")
    return sum(int(part) * unit for part, unit in zip(match.groups(), _UNITS, strict=True) if part)


def format_duration(seconds: int) -> str:
    parts = []
    for unit, suffix in zip(_UNITS[1:], "dhms", strict=True):
        amount, seconds = divmod(seconds, unit)
        if amount:
            parts.append(f"{amount}{suffix}")
    return "".join(parts) or "0s"


def _int_field(fields: dict[str, Any], key: str, default: int) -> int:
    value = fields.get(key, default)
    if type(value) is not int:  # not bool, not float, not "6"
        raise InvalidInput(key, "must be an integer")
    return value


def _str_field(fields: dict[str, Any], key: str, default: str) -> str:
    value = fields.get(key, default)
    if not isinstance(value, str):
        raise InvalidInput(key, "must be a string")
    return value


def _params(fields: dict[str, Any]) -> OtpParams:
    try:
        algorithm = Algorithm(_str_field(fields, "algorithm", "sha1"))
    except ValueError:
        raise InvalidInput(
            "algorithm", "must be one of sha1, sha224, sha256, sha384, sha512"
        ) from None
    return OtpParams(
        algorithm=algorithm,
        digits=_int_field(fields, "digits", 6),
        period=parse_duration(fields.get("period", "30s")),
        skew=_int_field(fields, "skew", 1),
    )


_SHOWABLE_KEY = re.compile(r"[A-Za-z0-9-]{1,32}")


def _refuse_unknown(fields: dict[Any, Any]) -> None:
    """Unknown leaves are refused, so a typo is not silently ignored. The key is named only
    when it looks like a field name: a misplaced secret must not come back in the error."""
    for key in fields:
        if key not in CONFIG_FIELDS:
            shown = key if isinstance(key, str) and _SHOWABLE_KEY.fullmatch(key) else "a key"
            raise InvalidInput(shown, "is not a field of totp")


def parse_fields(value: str | None) -> frozenset[str] | None:
    """RESTCONF-style `fields=a;b` (RFC 8040 §4.8.3), commas accepted too. TOTP objects are
    flat, so a path (`a/b`) or group (`a(b)`) names no leaf and selects nothing."""
    if value is None:
        return None
    wanted = frozenset(part.strip() for part in value.replace(",", ";").split(";"))
    wanted -= {""}
    if not wanted or len(value) > 1024:
        raise InvalidInput("fields", "must list field names separated by ;")
    return wanted


def parse_content(value: str | None) -> str:
    """RESTCONF `content`: config, nonconfig, or (absent, or `all`) both."""
    if value is None or value == "all":
        return "all"
    if value not in ("config", "nonconfig"):
        raise InvalidInput("content", "must be config or nonconfig")
    return value


def spec_from_fields(
    fields: object, path_name: str | None = None
) -> tuple[CredentialSpec, SecretBytes | None]:
    """A full Strongbox TOTP object -> spec and optional imported secret, with the defaults
    of the vendor page (digits 6, sha1, period 30s, issuer/account-name "unknown", skew 1)."""
    if not isinstance(fields, dict):
        raise InvalidInput("body", "must be an object")
    _refuse_unknown(fields)
    # null means "not given", as a merge patch's null does: the default applies.
    fields = {key: value for key, value in fields.items() if value is not None}
    name = fields.get("name", path_name)
    if path_name is not None and name != path_name:
        raise InvalidInput("name", "must equal the name in the path")
    if name is None:
        raise InvalidInput("name", "is required")
    if not isinstance(name, str):
        raise InvalidInput("name", "must be a string")
    params = _params(fields)
    secret = None
    if fields.get("passcode32") is not None:
        secret = b32decode_strict(fields["passcode32"], "passcode32")
    spec = CredentialSpec(
        name=name,
        params=params,
        key_size=_int_field(fields, "key-size", 0) if "key-size" in fields else None,
        issuer=_str_field(fields, "issuer", "unknown"),
        account_name=_str_field(fields, "account-name", "unknown"),
    )
    return spec, secret


def _json_patch(current: dict[str, Any], body: Any) -> dict[str, Any]:
    if not isinstance(body, list):
        raise InvalidInput("body", "must be a JSON Patch array")
    # One operation at a time, and the document must stay a flat object after each: a TOTP
    # object has only scalar leaves, and `copy` of a list into itself doubles it, so 40 ops
    # in 2 KB would otherwise build 2**40 objects (docs/requirements.md#bounded-input: memory stays
    # bounded).
    patched: Any = current
    for operation in body:
        try:
            patched = jsonpatch.apply_patch(patched, [operation])
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError):
            raise InvalidInput("body", "is not a JSON Patch that applies") from None
        if not isinstance(patched, dict):
            raise InvalidInput("body", "must patch the object into an object")
        if any(isinstance(value, dict | list) for value in patched.values()):
            raise InvalidInput("body", "must leave every field a single value")
    return dict(patched)


def _merge_patch(current: dict[str, Any], body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be an object (merge patch)")
    merged = dict(current)
    for key, value in body.items():
        if value is None:
            merged.pop(key, None)  # RFC 7396: null removes the leaf, so its default applies
        else:
            merged[key] = value
    return merged


def apply_patch(current: dict[str, Any], body: Body) -> dict[str, Any]:
    """PATCH: RFC 6902 JSON Patch for application/json-patch+json, RFC 7396 merge patch for
    JSON and YAML (docs/api-strongbox.md). `passcode32` is in the document as null ("keep the
    secret"), so `add`, `replace` and `remove` all work on it without revealing it."""
    document = {**current, "passcode32": None}
    if body.json_patch:
        return _json_patch(document, body.value)
    return _merge_patch(document, body.value)
