"""The component schemas of the Strongbox OpenAPI document (see openapi.py): the TOTP object
as accepted and as returned, and every other body, with the field rules of
docs/requirements.md#single-use"""

from __future__ import annotations

from typing import Any

from otpd.core.model import MAX_PERIOD, MAX_SECRET_BYTES, MAX_SKEW, MIN_SECRET_BYTES

__all__ = ["Json", "ref", "schemas"]

Json = dict[str, Any]


def ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Json) -> Json:
    # Request bodies may send null for a leaf: it means "not given", so the default applies.
    return {"anyOf": [schema, {"type": "null"}]}


# issuer / account-name: no colon or control character; no whitespace (str.isspace) at the ends.
_BAD = ":\\u0000-\\u001f\\u007f-\\u009f"
_EDGE = f"[^{_BAD} \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
_TEXT = f"^{_EDGE}(?:[^{_BAD}]{{0,254}}{_EDGE})?$"
_DURATION = "^(?:[0-9]{1,6}y)?(?:[0-9]{1,6}d)?(?:[0-9]{1,6}h)?(?:[0-9]{1,6}m)?(?:[0-9]{1,9}s)?$"
_LEAVES: Json = {
    "name": ref("Name"),
    "digits": {"type": "integer", "minimum": 6, "maximum": 10, "default": 6},
    "algorithm": {
        "type": "string",
        "enum": ["sha1", "sha224", "sha256", "sha384", "sha512"],
        "default": "sha1",
    },
    "key-size": {
        "type": "integer",
        "minimum": MIN_SECRET_BYTES,
        "maximum": MAX_SECRET_BYTES,
        "description": "Default by algorithm: sha1 20, sha224 32, sha256 32, sha384 64, "
        "sha512 64. An imported passcode32's length overrides it.",
    },
    "period": {
        "description": "[<n>y][<n>d][<n>h][<n>m][<n>s], 1 s to 1 d; a positive integer is "
        "taken as seconds. Read back in canonical form (90s -> 1m30s).",
        "anyOf": [
            {"type": "string", "minLength": 2, "pattern": _DURATION},
            {"type": "integer", "minimum": 1, "maximum": MAX_PERIOD},
        ],
        "default": "30s",
    },
    "issuer": {"type": "string", "pattern": _TEXT, "default": "unknown"},
    "account-name": {"type": "string", "pattern": _TEXT, "default": "unknown"},
    "skew": {"type": "integer", "minimum": 0, "maximum": MAX_SKEW, "default": 1},
    "passcode32": {
        "type": "string",
        "pattern": "^[A-Za-z2-7]+=*$",
        "minLength": (MIN_SECRET_BYTES * 8 + 4) // 5,
        "maxLength": 2048,
        "description": "RFC 4648 Base32, case-insensitive, padding optional, at least "
        f"{MIN_SECRET_BYTES} bytes. Shown only to clients with scope reveal.",
    },
}


def _totp_input(required: list[str]) -> Json:
    properties = {key: _nullable(value) for key, value in _LEAVES.items()}
    if required:  # create: the name is required and cannot be null
        properties["name"] = _LEAVES["name"]
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _totp_output(state: bool) -> Json:
    properties: Json = {
        key: {k: v for k, v in value.items() if k != "default"} for key, value in _LEAVES.items()
    }
    properties["period"] = {"type": "string", "pattern": _DURATION}
    if state:
        properties["url"] = {"type": "string", "pattern": "^otpauth://totp/"}
        properties["creation-time"] = {"type": "string", "format": "date-time"}
    return {
        "type": "object",
        "description": "`fields` and `content` may leave any leaf out except `name`.",
        "properties": properties,
        "required": ["name"],
        "additionalProperties": False,
    }


def schemas() -> Json:
    string = {"type": "string"}
    return {
        "Name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"},
        "TotpCreate": _totp_input(["name"]),
        "TotpReplace": _totp_input([]),
        "Totp": _totp_output(state=False),
        "TotpState": _totp_output(state=True),
        "JsonPatch": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "op": {"enum": ["add", "remove", "replace", "move", "copy", "test"]},
                    "path": string,
                    "from": string,
                    "value": {},
                },
                "required": ["op", "path"],
            },
        },
        "Count": _object({"count": {"type": "integer", "minimum": 0}}),
        "Names": {"type": "array", "items": ref("Name")},
        "Code": _object({"code": {"type": "string", "pattern": "^[0-9]{6,10}$"}}),
        "QrCode": _object(
            {
                "qr-code": {"type": "string", "contentEncoding": "base64"},
                "url": {"type": "string", "pattern": "^otpauth://totp/"},
            }
        ),
        "VerifyCode": {"type": "object", "properties": {"code": string}, "required": ["code"]},
        "Valid": _object({"valid": {"type": "boolean"}}),
        "Login": {
            "type": "object",
            "properties": {"username": string, "password": string, "tenant": string},
            "required": ["username", "password"],
        },
        "Refresh": {
            "type": "object",
            "properties": {
                "increment": {
                    "description": "New TTL from now, capped at the configured TTL",
                    "anyOf": [
                        {"type": "string", "minLength": 2, "pattern": _DURATION},
                        {"type": "integer", "minimum": 1},
                        {"type": "null"},
                    ],
                }
            },
        },
        "Token": _object(
            {
                "token": string,
                "expires-in": {"type": "integer", "minimum": 0},
                "expires": {"type": "string", "format": "date-time"},
                "accessor": string,
                "creation-time": {"type": "string", "format": "date-time"},
                "renewal-time": {"type": "string", "format": "date-time"},
            }
        ),
        "Errors": _object(
            {
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": _object({"error-message": string, "error-info": {"type": "object"}}),
                }
            }
        ),
    }


def _object(properties: Json) -> Json:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }
