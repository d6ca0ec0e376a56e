"""GET of the TOTP list and of one TOTP, as configuration (/v1/config/...) or as state
(/v1/state/..., which adds `url` and `creation-time`): docs/api-strongbox.md

`passcode32` and `url` carry the secret, so they appear only for a client with scope reveal.
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from otpd.api.common import ApiRuntime, bearer_token, one_hop, runtime_of
from otpd.api.strongbox.context import Conditions, Config, check_site, flag, path_name, reply
from otpd.api.strongbox.parse import parse_content, parse_fields
from otpd.api.strongbox.render import (
    etag,
    filter_fields,
    iso_time,
    list_etag,
    state_view,
    totp_config,
)
from otpd.core.credential_service import CredentialService
from otpd.core.model import CredentialRecord, Principal, Scope
from otpd.core.provisioning import b32encode

__all__ = ["get_config", "get_state", "list_config", "list_state"]


def _view(
    credentials: CredentialService, caller: Principal, record: CredentialRecord, content: str | None
) -> dict[str, Any]:
    """One TOTP object; `content` None means the configuration view (/v1/config)."""
    secret = credentials.secret_of(caller, record) if Scope.REVEAL in caller.scopes else None
    config = totp_config(record, None if secret is None else b32encode(secret))
    if content is None:
        return config
    state = {"creation-time": iso_time(record.created_at_us)}
    if secret is not None:
        state = {"url": credentials.uri_for(record, secret), **state}
    return state_view(config, state, content)


def _views(
    credentials: CredentialService,
    caller: Principal,
    records: list[CredentialRecord],
    content: str | None,
) -> list[dict[str, Any]]:
    # The records as listed (and as the list ETag saw them), with no second read per entry.
    return [_view(credentials, caller, record, content) for record in records]


def _content(query: QueryParams, state: bool, site: str) -> str | None:
    if not state:
        return None
    check_site(query, site)
    return parse_content(query.get("content"))


def _list(
    runtime: ApiRuntime,
    token: str | None,
    query: QueryParams,
    read: tuple[bool, str],
    conditions: Conditions,
) -> tuple[Any, str, bool]:
    """In the worker: authenticate (scope read), check the query, list, build the views."""
    caller = runtime.access.authenticate_token(token, Scope.READ)
    content = _content(query, *read)
    fields = parse_fields(query.get("fields"))
    flag(query, "validate")  # a read has nothing to validate; the value is still checked
    count, keys = flag(query, "count"), flag(query, "keys")
    records = runtime.credentials.list_credentials(caller)
    tag = list_etag(records)
    if conditions.not_modified(tag):
        return None, tag, True
    body: Any
    if count:
        body = {"count": len(records)}
    elif keys:
        body = [record.name for record in records]
    else:
        body = [
            filter_fields(view, fields)
            for view in _views(runtime.credentials, caller, records, content)
        ]
    return body, tag, False


def _get(
    runtime: ApiRuntime,
    token: str | None,
    query: QueryParams,
    read: tuple[bool, str],
    conditions: Conditions,
    name: str,
) -> tuple[Any, str, bool]:
    caller = runtime.access.authenticate_token(token, Scope.READ)
    content = _content(query, *read)
    fields = parse_fields(query.get("fields"))
    flag(query, "validate")  # a read has nothing to validate; the value is still checked
    record = runtime.credentials.get_credential(caller, name)
    tag = etag(record)
    if conditions.not_modified(tag):
        return None, tag, True
    return filter_fields(_view(runtime.credentials, caller, record, content), fields), tag, False


def _answer(request: Request, body: Any, tag: str, not_modified: bool) -> Response:
    if not_modified:
        return Response(status_code=304, headers={"ETag": tag})
    return reply(request, body, headers={"ETag": tag})


async def _read(request: Request, config: Config, state: bool, one: bool) -> Response:
    token, query, conditions = (
        bearer_token(request.headers),
        request.query_params,
        Conditions.of(request),
    )
    read = (state, config.site)
    runtime = runtime_of(request)
    if one:
        answer = await one_hop(
            request, _get, runtime, token, query, read, conditions, path_name(request)
        )
    else:
        answer = await one_hop(request, _list, runtime, token, query, read, conditions)
    return _answer(request, *answer)


async def list_config(request: Request, config: Config) -> Response:
    return await _read(request, config, state=False, one=False)


async def list_state(request: Request, config: Config) -> Response:
    return await _read(request, config, state=True, one=False)


async def get_config(request: Request, config: Config) -> Response:
    return await _read(request, config, state=False, one=True)


async def get_state(request: Request, config: Config) -> Response:
    return await _read(request, config, state=True, one=True)
