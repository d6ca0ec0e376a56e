"""Strongbox TOTP API routes: parse -> one service call -> render (DESIGN habit 9).

Spec: shared/specs/strongbox-totp-api.txt; choices: NOTES.md §2, §5, §7; CLIENTS.md §3.7.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

import jsonpatch
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otpd.api.common import bearer_token
from otpd.api.strongbox.errors import PreconditionFailed, error_response
from otpd.api.strongbox.parse import parse_duration, read_body, spec_from_fields, wants_yaml
from otpd.api.strongbox.render import etag, filter_fields, iso_time, render, totp_config
from otpd.core.errors import InvalidInput, NotFound, OtpdError, Unauthenticated
from otpd.core.model import CredentialRecord, Principal, Scope
from otpd.core.provisioning import b32encode
from otpd.core.service import CredentialService
from otpd.qr import png_bytes

__all__ = ["ROUTES"]

CONFIG = "/v1/config/strongbox/totp"
STATE = "/v1/state/strongbox/totp"
Handler = Callable[[Request], Awaitable[Response]]


def endpoint(handler: Handler) -> Handler:
    """Map domain errors through the one table; anything else reaches the last resort."""

    @wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except OtpdError as error:
            return error_response(error)

    return wrapped


def _service(request: Request) -> CredentialService:
    service: CredentialService = request.app.state.runtime.service
    return service


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    # The store may fsync (synchronous=FULL): keep the event loop free (see bench/).
    return await run_in_threadpool(fn, *args, **kwargs)


async def _principal(request: Request) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("no bearer token")
    principal: Principal = await _call(_service(request).authenticate_token, token)
    return principal


def _flag(request: Request, name: str) -> bool:
    value = request.query_params.get(name)
    if value not in (None, "true", "false"):
        raise InvalidInput(name, "must be true")
    return value == "true"


def _check_site(request: Request) -> None:
    site = request.query_params.get("site")
    if site is not None and site != request.app.state.runtime.settings.site:
        raise NotFound("no such site")


def _name(request: Request) -> str:
    name: str = request.path_params["name"]
    return name


def _reply(
    request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return render(body, yaml_out=wants_yaml(request), status=status, headers=headers)


def _check_preconditions(request: Request, record: CredentialRecord | None) -> None:
    if_match = request.headers.get("if-match")
    if if_match is not None:
        tags = {tag.strip() for tag in if_match.split(",")}
        if record is None or ("*" not in tags and etag(record) not in tags):
            raise PreconditionFailed("if-match")
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None and record is not None:
        tags = {tag.strip() for tag in if_none_match.split(",")}
        if "*" in tags or etag(record) in tags:
            raise PreconditionFailed("if-none-match")


async def _find(request: Request, principal: Principal, name: str) -> CredentialRecord | None:
    try:
        record: CredentialRecord = await _call(_service(request).get_credential, principal, name)
    except NotFound:
        return None
    return record


def _can_reveal(principal: Principal) -> bool:
    return Scope.REVEAL in principal.scopes


async def _passcode32(
    request: Request, principal: Principal, record: CredentialRecord
) -> str | None:
    if not _can_reveal(principal):
        return None  # NOTES.md §5: passcode32 only for scope reveal
    secret = await _call(_service(request).reveal_secret, principal, record.name)
    return b32encode(secret)


async def _state_object(
    request: Request, principal: Principal, record: CredentialRecord
) -> dict[str, Any]:
    passcode = await _passcode32(request, principal, record)
    obj = totp_config(record, passcode)
    if passcode is not None:  # the url carries the secret: reveal only, like passcode32
        obj["url"] = await _call(_service(request).key_uri, principal, record.name)
    obj["creation-time"] = iso_time(record.created_at_us)
    content = request.query_params.get("content", "all")
    if content == "config":
        obj.pop("url", None)
        obj.pop("creation-time")
    elif content == "nonconfig":
        obj = {key: obj[key] for key in ("name", "url", "creation-time") if key in obj}
    elif content != "all":
        raise InvalidInput("content", "must be config or nonconfig")
    return obj


# --- login and tokens --------------------------------------------------------------------
def _token_body(issued: Any, now_us: int) -> dict[str, Any]:
    record = issued.record
    return {
        "token": issued.token,
        "expires-in": max(0, (record.expires_at_us - now_us) // 1_000_000),
        "expires": iso_time(record.expires_at_us),
        "accessor": record.accessor,
        "creation-time": iso_time(record.created_at_us),
        "renewal-time": iso_time(record.renewed_at_us),
    }


@endpoint
async def login(request: Request) -> Response:
    body = (await read_body(request)).value
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be an object")
    service = _service(request)
    issued = await _call(
        service.login, body.get("username"), body.get("password"), body.get("tenant")
    )
    return _reply(request, _token_body(issued, issued.record.created_at_us))


@endpoint
async def refresh(request: Request) -> Response:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated("no bearer token")
    body = (await read_body(request, required=False)).value
    increment = None
    if isinstance(body, dict) and body.get("increment") is not None:
        increment = parse_duration(body["increment"], "increment")
    elif body is not None and not isinstance(body, dict):
        raise InvalidInput("body", "must be an object")
    issued = await _call(_service(request).refresh_token, token, increment)
    return _reply(request, _token_body(issued, issued.record.renewed_at_us))


# --- configuration -----------------------------------------------------------------------
async def _list(request: Request, state: bool) -> Response:
    principal = await _principal(request)
    if state:
        _check_site(request)
    _flag(request, "validate")
    records: list[CredentialRecord] = await _call(_service(request).list_credentials, principal)
    if _flag(request, "count"):
        return _reply(request, {"count": len(records)})
    if _flag(request, "keys"):
        return _reply(request, [record.name for record in records])
    fields = request.query_params.get("fields")
    items = []
    for record in records:
        if state:
            obj = await _state_object(request, principal, record)
        else:
            obj = totp_config(record, await _passcode32(request, principal, record))
        items.append(filter_fields(obj, fields))
    return _reply(request, items)


@endpoint
async def list_config(request: Request) -> Response:
    return await _list(request, state=False)


@endpoint
async def list_state(request: Request) -> Response:
    return await _list(request, state=True)


@endpoint
async def create(request: Request) -> Response:
    principal = await _principal(request)
    spec, secret = spec_from_fields((await read_body(request)).value)
    service = _service(request)
    if _flag(request, "validate"):
        await _call(service.check_create, principal, spec, secret)
    else:
        await _call(service.create_credential, principal, spec, secret)
    return Response(status_code=201)


async def _get(request: Request, state: bool) -> Response:
    principal = await _principal(request)
    if state:
        _check_site(request)
    _flag(request, "validate")
    record: CredentialRecord = await _call(
        _service(request).get_credential, principal, _name(request)
    )
    tag = etag(record)
    if request.headers.get("if-none-match") in (tag, "*"):
        return Response(status_code=304, headers={"ETag": tag})
    if state:
        obj = await _state_object(request, principal, record)
    else:
        obj = totp_config(record, await _passcode32(request, principal, record))
    return _reply(
        request, filter_fields(obj, request.query_params.get("fields")), headers={"ETag": tag}
    )


@endpoint
async def get_config(request: Request) -> Response:
    return await _get(request, state=False)


@endpoint
async def get_state(request: Request) -> Response:
    return await _get(request, state=True)


@endpoint
async def put(request: Request) -> Response:
    principal = await _principal(request)
    name = _name(request)
    spec, secret = spec_from_fields((await read_body(request)).value, path_name=name)
    service = _service(request)
    record = await _find(request, principal, name)
    _check_preconditions(request, record)
    if _flag(request, "validate"):
        if record is None:
            await _call(service.check_create, principal, spec, secret)
        else:
            await _call(service.check_replace, principal, spec, secret)
        return Response(status_code=201 if record is None else 204)
    if record is None:
        await _call(service.create_credential, principal, spec, secret)
        return Response(status_code=201)
    await _call(service.replace_credential, principal, spec, secret)
    return Response(status_code=204)


def _apply_patch(current: dict[str, Any], body: Any, json_patch: bool) -> dict[str, Any]:
    if json_patch:
        if not isinstance(body, list):
            raise InvalidInput("body", "must be a JSON Patch array")
        try:
            patched = jsonpatch.apply_patch(current, body)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError):
            raise InvalidInput("body", "is not a JSON Patch that applies") from None
        if not isinstance(patched, dict):
            raise InvalidInput("body", "must patch the object into an object")
        return patched
    if not isinstance(body, dict):
        raise InvalidInput("body", "must be an object (merge patch)")
    merged = dict(current)
    for key, value in body.items():
        if value is None:
            merged.pop(key, None)  # RFC 7396: null removes, so the default applies
        else:
            merged[key] = value
    return merged


@endpoint
async def patch(request: Request) -> Response:
    principal = await _principal(request)
    name = _name(request)
    body = await read_body(request)
    service = _service(request)
    record: CredentialRecord = await _call(service.get_credential_for_update, principal, name)
    _check_preconditions(request, record)
    merged = _apply_patch(totp_config(record), body.value, body.json_patch)
    if merged.get("name", name) != name:
        raise InvalidInput("name", "cannot be changed by PATCH")
    spec, secret = spec_from_fields(merged, path_name=name)
    if _flag(request, "validate"):
        await _call(service.check_replace, principal, spec, secret)
    else:
        await _call(service.replace_credential, principal, spec, secret)
    return Response(status_code=204)


@endpoint
async def delete(request: Request) -> Response:
    principal = await _principal(request)
    name = _name(request)
    service = _service(request)
    record: CredentialRecord = await _call(service.get_credential_for_update, principal, name)
    _check_preconditions(request, record)
    if not _flag(request, "validate"):
        await _call(service.delete_credential, principal, name)
    return Response(status_code=204)


# --- operations --------------------------------------------------------------------------
@endpoint
async def get_code(request: Request) -> Response:
    principal = await _principal(request)
    code = await _call(_service(request).current_code, principal, _name(request))
    return _reply(request, {"code": code})


@endpoint
async def get_qr_code(request: Request) -> Response:
    principal = await _principal(request)
    url: str = await _call(_service(request).key_uri, principal, _name(request))
    png = await _call(png_bytes, url)
    return _reply(request, {"qr-code": base64.b64encode(png).decode("ascii"), "url": url})


@endpoint
async def verify_code(request: Request) -> Response:
    principal = await _principal(request)
    body = (await read_body(request)).value
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        raise InvalidInput("code", "is required and must be a string")
    result = await _call(
        _service(request).verify, principal, _name(request), body["code"], missing_is_error=True
    )
    return _reply(request, {"valid": result.accepted})


def _options(allow: str) -> Handler:
    async def options(request: Request) -> Response:
        return Response(status_code=204, headers={"Allow": allow})

    return options


def _resource(path: str, handlers: dict[str, Handler]) -> list[Route]:
    allow = ", ".join([*handlers, "OPTIONS"] + (["HEAD"] if "GET" in handlers else []))
    routes = [Route(path, handler, methods=[method]) for method, handler in handlers.items()]
    routes.append(Route(path, _options(allow), methods=["OPTIONS"]))
    return routes


ROUTES = [
    *_resource("/v1/login", {"POST": login}),
    *_resource("/v1/state/strongbox/token/refresh", {"POST": refresh}),
    *_resource(CONFIG, {"GET": list_config, "POST": create}),
    *_resource(
        CONFIG + "/{name}", {"GET": get_config, "PUT": put, "PATCH": patch, "DELETE": delete}
    ),
    *_resource(STATE, {"GET": list_state}),
    *_resource(STATE + "/{name}", {"GET": get_state}),
    *_resource(STATE + "/{name}/get-code", {"POST": get_code}),
    *_resource(STATE + "/{name}/get-qr-code", {"POST": get_qr_code}),
    *_resource(STATE + "/{name}/verify-code", {"POST": verify_code}),
]
