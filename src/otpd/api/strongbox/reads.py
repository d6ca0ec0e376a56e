"""GET of the TOTP list and of one TOTP, as configuration (/v1/config/...) or as state
(/v1/state/..., which adds `url` and `creation-time`): NOTES.md §5.

`passcode32` and `url` carry the secret, so they appear only for a client with scope reveal.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.strongbox.context import (
    call,
    check_site,
    endpoint,
    flag,
    not_modified,
    path_name,
    principal,
    reply,
    service,
)
from otpd.api.strongbox.parse import parse_content, parse_fields
from otpd.api.strongbox.render import (
    etag,
    filter_fields,
    iso_time,
    list_etag,
    state_view,
    totp_config,
)
from otpd.core.model import CredentialRecord, Principal, Scope
from otpd.core.provisioning import b32encode
from otpd.core.service import CredentialService

__all__ = ["get_config", "get_state", "list_config", "list_state"]


def _view(
    svc: CredentialService, caller: Principal, record: CredentialRecord, content: str | None
) -> dict[str, Any]:
    """One TOTP object; `content` None means the configuration view (/v1/config)."""
    secret = svc.secret_of(caller, record) if Scope.REVEAL in caller.scopes else None
    config = totp_config(record, None if secret is None else b32encode(secret))
    if content is None:
        return config
    state = {"creation-time": iso_time(record.created_at_us)}
    if secret is not None:
        state = {"url": svc.uri_for(record, secret), **state}
    return state_view(config, state, content)


def _views(
    svc: CredentialService, caller: Principal, records: list[CredentialRecord], content: str | None
) -> list[dict[str, Any]]:
    # The records as listed (and as the list ETag saw them), with no second read per entry.
    return [_view(svc, caller, record, content) for record in records]


def _content(request: Request, state: bool) -> str | None:
    if not state:
        return None
    check_site(request)
    return parse_content(request.query_params.get("content"))


async def _list(request: Request, state: bool) -> Response:
    caller = await principal(request, Scope.READ)
    content = _content(request, state)
    fields = parse_fields(request.query_params.get("fields"))
    flag(request, "validate")  # a read has nothing to validate; the value is still checked
    count, keys = flag(request, "count"), flag(request, "keys")
    svc = service(request)
    records = await call(svc.list_credentials, caller)
    tag = list_etag(records)
    if (early := not_modified(request, tag)) is not None:
        return early
    body: Any
    if count:
        body = {"count": len(records)}
    elif keys:
        body = [record.name for record in records]
    else:
        views = await call(_views, svc, caller, records, content)
        body = [filter_fields(view, fields) for view in views]
    return reply(request, body, headers={"ETag": tag})


async def _get(request: Request, state: bool) -> Response:
    caller = await principal(request, Scope.READ)
    content = _content(request, state)
    fields = parse_fields(request.query_params.get("fields"))
    flag(request, "validate")  # a read has nothing to validate; the value is still checked
    svc = service(request)
    record = await call(svc.get_credential, caller, path_name(request))
    tag = etag(record)
    if (early := not_modified(request, tag)) is not None:
        return early
    view = await call(_view, svc, caller, record, content)
    return reply(request, filter_fields(view, fields), headers={"ETag": tag})


@endpoint
async def list_config(request: Request) -> Response:
    return await _list(request, state=False)


@endpoint
async def list_state(request: Request) -> Response:
    return await _list(request, state=True)


@endpoint
async def get_config(request: Request) -> Response:
    return await _get(request, state=False)


@endpoint
async def get_state(request: Request) -> Response:
    return await _get(request, state=True)
