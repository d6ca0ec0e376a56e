"""The OpenAPI 3.1 document of the Strongbox TOTP API exactly as otpd serves it.

Written by hand from the vendor page (https://avassa-api.redoc.ly/tag/TOTP) and
docs/api-strongbox.md, not generated from the routes: tests/api/strongbox compares it with
`routes.RESOURCES` and runs schemathesis against it over a real server, so the two cannot drift
apart silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

from otpd import __version__
from otpd.api.strongbox.openapi_schemas import Json, ref, schemas

__all__ = ["OPENAPI_PATH", "openapi_document"]

OPENAPI_PATH = "/v1/openapi.json"
CONFIG = "/v1/config/strongbox/totp"
STATE = "/v1/state/strongbox/totp"

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


def _query(name: str, description: str, enum: list[str] | None = None) -> Json:
    schema: Json = {"type": "string"} if enum is None else {"type": "string", "enum": enum}
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _parameters(site: str) -> Json:
    flag = ["true", "false"]
    return {
        "name": {
            "name": "name",
            "in": "path",
            "required": True,
            "description": "name of totp",
            "schema": ref("Name"),
            "example": "admin",
        },
        "validate": _query("validate", "Run every check, change nothing", flag),
        "fields": {
            **_query("fields", "Only these leaves, separated by ; (name always stays)"),
            "schema": {"type": "string", "maxLength": 1024, "pattern": "[^;,\\s]"},
        },
        "keys": _query("keys", "Only the list of names", flag),
        "count": _query("count", "Only the number of entries", flag),
        "content": _query("content", "config or nonconfig leaves", ["config", "nonconfig", "all"]),
        "site": _query("site", "The configured site name (OTPD_SITE); any other is 404", [site]),
        "if-match": {"name": "If-Match", "in": "header", "schema": {"type": "string"}},
        "if-none-match": {"name": "If-None-Match", "in": "header", "schema": {"type": "string"}},
    }


_HEADER = {"schema": {"type": "string"}}
_ETAG = {"ETag": _HEADER}


def _response(status: int, schema: Json | None = None, headers: Json | None = None) -> Json:
    response: Json = {"description": REASONS[status]}
    if status >= 400:
        schema = ref("Errors")
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


def _named(operations: Json) -> Json:
    """A /{name} path: every operation takes the name, except that OPTIONS answers for any
    name without looking at it."""
    any_name = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    options = {**operations["options"], "parameters": [any_name]}
    return {
        "parameters": [{"$ref": "#/components/parameters/name"}],
        **operations,
        "options": options,
    }


def _reads(op_id: str, schema: Json, params: tuple[str, ...], errors: tuple[int, ...]) -> Json:
    get = _operation(
        op_id, {200: schema, 304: None}, errors, params, headers={200: _ETAG, 304: _ETAG}
    )
    return {"get": get, "head": _head(get), "options": _options(op_id)}


def _listing(item: str) -> Json:
    listing = {"type": "array", "items": ref(item)}
    return {"anyOf": [listing, ref("Names"), ref("Count")]}


_PRECONDITIONS = ("if-match", "if-none-match")
_LIST = ("fields", "validate", "keys", "count", *_PRECONDITIONS)
_STATE = ("site", "content")
_CREATED = {201: {"Location": _HEADER}}


def _one_totp() -> Json:
    precondition = ("validate", *_PRECONDITIONS)
    patch_types = {**_body(ref("TotpReplace"))["content"]}
    patch_types["application/json-patch+json"] = {"schema": ref("JsonPatch")}
    replace = _body(ref("TotpReplace"))
    return {
        **_reads("getTotp", ref("Totp"), ("fields", *precondition), _ONE),
        "put": _operation(
            "putTotp", {201: None, 204: None}, _PUT, precondition, replace, headers=_CREATED
        ),
        "patch": _operation(
            "patchTotp", {204: None}, _ONE, precondition, {"required": True, "content": patch_types}
        ),
        "delete": _operation("deleteTotp", {204: None}, _ONE, precondition),
    }


def _paths() -> Json:
    token = {200: ref("Token")}
    create = _body(ref("TotpCreate"))
    state_one = ("fields", "validate", *_STATE, *_PRECONDITIONS)
    return {
        "/v1/login": {
            "post": _operation("login", token, (400, 401), body=_body(ref("Login")), public=True),
            "options": _options("login"),
        },
        "/v1/state/strongbox/token/refresh": {
            "post": _operation("refreshToken", token, (400,), body=_body(ref("Refresh"), False)),
            "options": _options("refreshToken"),
        },
        CONFIG: {
            **_reads("listTotp", _listing("Totp"), _LIST, (400, 403, 412)),
            "post": _operation(
                "createTotp", {201: None}, _CREATE, ("validate",), create, headers=_CREATED
            ),
        },
        CONFIG + "/{name}": _named(_one_totp()),
        STATE: _reads("listTotpState", _listing("TotpState"), (*_LIST, *_STATE), _ONE),
        STATE + "/{name}": _named(_reads("getTotpState", ref("TotpState"), state_one, _ONE)),
        **_operations(),
        OPENAPI_PATH: _document(),
    }


_ONE = (400, 403, 404, 412)
_CREATE = (400, 403, 409)
_PUT = (400, 403, 409, 412)


def _document() -> Json:
    get = _operation("openapi", {200: {"type": "object"}}, (), public=True)
    return {"get": get, "head": _head(get), "options": _options("openapi")}


def _operations() -> Json:
    operations = {
        "get-code": ("getCode", ref("Code"), None),
        "get-qr-code": ("getQrCode", ref("QrCode"), None),
        "verify-code": ("verifyCode", ref("Valid"), _body(ref("VerifyCode"))),
    }
    paths = {}
    for suffix, (op_id, schema, body) in operations.items():
        post = _operation(op_id, {200: schema}, (400, 403, 404), body=body)
        paths[f"{STATE}/{{name}}/{suffix}"] = _named({"post": post, "options": _options(op_id)})
    return paths


@cache
def openapi_document(site: str = "local") -> Json:
    """The document for a server answering for `site` (the one value `site=` accepts)."""
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
            "schemas": schemas(),
            "parameters": _parameters(site),
            "securitySchemes": {"accessToken": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"accessToken": []}],
    }
