"""The OpenAPI 3.1 document of the Strongbox TOTP API exactly as otpd serves it.

Written by hand from the vendor page (shared/specs/strongbox-totp-api.txt) and NOTES.md §5,
not generated from the routes: tests/api/strongbox compares it with `routes.RESOURCES` and
runs schemathesis against it over a real server, so the two cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from otpd import __version__
from otpd.core.model import MAX_PERIOD, MAX_SECRET_BYTES, MAX_SKEW, MIN_SECRET_BYTES

__all__ = ["OPENAPI_PATH", "openapi_document"]

OPENAPI_PATH = "/v1/openapi.json"
CONFIG = "/v1/config/strongbox/totp"
STATE = "/v1/state/strongbox/totp"

Json = dict[str, Any]

JSON = "application/json"
YAML_IN = ("application/yaml", "application/x-yaml", "text/yaml")
BODY_TYPES = (JSON, *YAML_IN)
OUT_TYPES = (JSON, "application/yaml")
REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized (no, wrong or expired bearer token)",
    403: "Forbidden (the client lacks the scope)",
    404: "Not Found (also another tenant's TOTP, or an unknown site)",
    409: "Conflict (instance exists)",
    412: "Precondition Failed (If-Match / If-None-Match)",
    413: "Content Too Large",
    503: "Service Unavailable (strongbox sealed)",
}


def _ref(name: str) -> Json:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Json) -> Json:
    # Request bodies may send null for a leaf: it means "not given", so the default applies.
    return {"anyOf": [schema, {"type": "null"}]}


_TEXT = "^[^:\\u0000-\\u001f\\u007f]{1,256}$"
_DURATION = "^(?:[0-9]{1,6}y)?(?:[0-9]{1,6}d)?(?:[0-9]{1,6}h)?(?:[0-9]{1,6}m)?(?:[0-9]{1,9}s)?$"
_LEAVES: Json = {
    "name": _ref("Name"),
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
        "description": "RFC 4648 Base32, case-insensitive, padding optional, at least "
        f"{MIN_SECRET_BYTES} bytes. Shown only to clients with scope reveal.",
    },
}


def _totp_input(required: list[str]) -> Json:
    properties = {key: _nullable(value) for key, value in _LEAVES.items()}
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


def _schemas() -> Json:
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
        "Names": {"type": "array", "items": _ref("Name")},
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
        "Refresh": {"type": "object", "properties": {"increment": _LEAVES["period"]}},
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


def _query(name: str, description: str, enum: list[str] | None = None) -> Json:
    schema: Json = {"type": "string"} if enum is None else {"type": "string", "enum": enum}
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _parameters() -> Json:
    flag = ["true", "false"]
    return {
        "name": {
            "name": "name",
            "in": "path",
            "required": True,
            "description": "name of totp",
            "schema": _ref("Name"),
            "example": "admin",
        },
        "validate": _query("validate", "Run every check, change nothing", flag),
        "fields": _query("fields", "Only these leaves, separated by ; (name always stays)"),
        "keys": _query("keys", "Only the list of names", flag),
        "count": _query("count", "Only the number of entries", flag),
        "content": _query("content", "config or nonconfig leaves", ["config", "nonconfig", "all"]),
        "site": _query("site", "Must be the configured site name (default local), else 404"),
        "if-match": {"name": "If-Match", "in": "header", "schema": {"type": "string"}},
        "if-none-match": {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
    }


_HEADER = {"schema": {"type": "string"}}
_ETAG = {"ETag": _HEADER}


def _response(status: int, schema: Json | None = None, headers: Json | None = None) -> Json:
    response: Json = {"description": REASONS[status]}
    if status >= 400:
        schema = _ref("Errors")
        headers = {"WWW-Authenticate": _HEADER} if status == 401 else headers
    if schema is not None:
        types = (JSON,) if status >= 400 else OUT_TYPES
        response["content"] = {media: {"schema": schema} for media in types}
    if headers:
        response["headers"] = headers
    return response


def _operation(
    op_id: str,
    ok: Mapping[int, Json | None],
    errors: tuple[int, ...],
    params: tuple[str, ...] = (),
    body: Json | None = None,
    *,
    public: bool = False,
    headers: dict[int, Json] | None = None,
) -> Json:
    responses = {str(status): _response(status, schema) for status, schema in ok.items()}
    for status, extra in (headers or {}).items():
        responses[str(status)]["headers"] = extra
    # Every path answers 503 while sealed; the body cap answers 413 wherever a body is read.
    statuses = {*errors, 503} | ({413} if body else set()) | (set() if public else {401})
    for status in sorted(statuses):
        responses[str(status)] = _response(status)
    operation: Json = {"operationId": op_id, "responses": dict(sorted(responses.items()))}
    if params:
        operation["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if body is not None:
        operation["requestBody"] = body
    if public:
        operation["security"] = []
    return operation


def _body(schema: Json, required: bool = True, types: tuple[str, ...] = BODY_TYPES) -> Json:
    return {"required": required, "content": {media: {"schema": schema} for media in types}}


def _head(get: Json) -> Json:
    """HEAD: GET's authentication and statuses, without a body."""
    responses = {
        status: {k: v for k, v in response.items() if k != "content"}
        for status, response in get["responses"].items()
    }
    return {**get, "operationId": get["operationId"] + "Head", "responses": responses}


def _options(op_id: str) -> Json:
    ok = {204: None}
    return _operation(op_id + "Options", ok, (), public=True, headers={204: {"Allow": _HEADER}})


def _reads(op_id: str, schema: Json, params: tuple[str, ...], errors: tuple[int, ...]) -> Json:
    get = _operation(
        op_id, {200: schema, 304: None}, errors, params, headers={200: _ETAG, 304: _ETAG}
    )
    return {"get": get, "head": _head(get), "options": _options(op_id)}


def _listing(item: str) -> Json:
    listing = {"type": "array", "items": _ref(item)}
    return {"anyOf": [listing, _ref("Names"), _ref("Count")]}


_PRECONDITIONS = ("if-match", "if-none-match")
_LIST = ("fields", "validate", "keys", "count", *_PRECONDITIONS)
_STATE = ("site", "content")
_CREATED = {201: {"Location": _HEADER}}


def _paths() -> Json:
    token = {200: _ref("Token")}
    patch_types = {**_body(_ref("TotpReplace"))["content"]}
    patch_types["application/json-patch+json"] = {"schema": _ref("JsonPatch")}
    return {
        "/v1/login": {
            "post": _operation("login", token, (400, 401), body=_body(_ref("Login")), public=True),
            "options": _options("login"),
        },
        "/v1/state/strongbox/token/refresh": {
            "post": _operation("refreshToken", token, (400,), body=_body(_ref("Refresh"), False)),
            "options": _options("refreshToken"),
        },
        CONFIG: {
            **_reads("listTotp", _listing("Totp"), _LIST, (400, 403, 412)),
            "post": _operation(
                "createTotp",
                {201: None},
                (400, 403, 409),
                ("validate",),
                _body(_ref("TotpCreate")),
                headers=_CREATED,
            ),
        },
        CONFIG + "/{name}": {
            "parameters": [{"$ref": "#/components/parameters/name"}],
            **_reads("getTotp", _ref("Totp"), ("fields", "validate", *_PRECONDITIONS), _ONE),
            "put": _operation(
                "putTotp",
                {201: None, 204: None},
                (400, 403, 409, 412),
                ("validate", *_PRECONDITIONS),
                _body(_ref("TotpReplace")),
                headers=_CREATED,
            ),
            "patch": _operation(
                "patchTotp",
                {204: None},
                _ONE,
                ("validate", *_PRECONDITIONS),
                {"required": True, "content": patch_types},
            ),
            "delete": _operation("deleteTotp", {204: None}, _ONE, ("validate", *_PRECONDITIONS)),
        },
        STATE: _reads("listTotpState", _listing("TotpState"), (*_LIST, *_STATE), _ONE),
        STATE + "/{name}": {
            "parameters": [{"$ref": "#/components/parameters/name"}],
            **_reads(
                "getTotpState",
                _ref("TotpState"),
                ("fields", "validate", *_STATE, *_PRECONDITIONS),
                _ONE,
            ),
        },
        **_operations(),
        OPENAPI_PATH: _document(),
    }


_ONE = (400, 403, 404, 412)


def _document() -> Json:
    get = _operation("openapi", {200: {"type": "object"}}, (), public=True)
    return {"get": get, "head": _head(get), "options": _options("openapi")}


def _operations() -> Json:
    operations = {
        "get-code": ("getCode", _ref("Code"), None),
        "get-qr-code": ("getQrCode", _ref("QrCode"), None),
        "verify-code": ("verifyCode", _ref("Valid"), _body(_ref("VerifyCode"))),
    }
    paths = {}
    for suffix, (op_id, schema, body) in operations.items():
        post = _operation(op_id, {200: schema}, (400, 403, 404), body=body)
        paths[f"{STATE}/{{name}}/{suffix}"] = {
            "parameters": [{"$ref": "#/components/parameters/name"}],
            "post": post,
            "options": _options(op_id),
        }
    return paths


@cache
def openapi_document() -> Json:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "otpd: Strongbox TOTP API",
            "version": __version__,
            "description": "Avassa Strongbox TOTP API as served by otpd: "
            "see docs/api-strongbox.md. Errors are "
            '{"errors":[{"error-message":...,"error-info":{}}]} with the status.',
        },
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "parameters": _parameters(),
            "securitySchemes": {"accessToken": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"accessToken": []}],
    }
