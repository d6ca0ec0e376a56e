"""POST (create), PUT (create or replace), PATCH (merge patch or JSON Patch) and DELETE of a
TOTP. `validate=true` runs every check of the real call and changes nothing (NOTES.md §5).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.strongbox.context import (
    call,
    check_preconditions,
    endpoint,
    flag,
    path_name,
    principal,
    service,
)
from otpd.api.strongbox.parse import apply_patch, read_body, spec_from_fields
from otpd.api.strongbox.render import etag, totp_config
from otpd.core.errors import InvalidInput, NotFound
from otpd.core.model import CredentialRecord, Principal, Scope
from otpd.core.service import CredentialService

__all__ = ["create", "delete", "patch", "put"]

CONFIG = "/v1/config/strongbox/totp"


def _created(name: str) -> Response:
    # Names match [A-Za-z0-9][A-Za-z0-9._@+-]*, so they are safe in a path as they are.
    return Response(status_code=201, headers={"Location": f"{CONFIG}/{name}"})


@endpoint
async def create(request: Request) -> Response:
    caller = await principal(request, Scope.WRITE)
    dry_run = flag(request, "validate")
    spec, secret = spec_from_fields((await read_body(request)).value)
    svc = service(request)
    await call(svc.check_create if dry_run else svc.create_credential, caller, spec, secret)
    return _created(spec.name)


def _find(svc: CredentialService, caller: Principal, name: str) -> CredentialRecord | None:
    try:
        return svc.get_credential_for_update(caller, name)
    except NotFound:
        return None


@endpoint
async def put(request: Request) -> Response:
    """Replace or create: 201 when created, 204 when replaced. A replace without
    `passcode32` keeps the secret unless the key size changes (service.replace_credential)."""
    caller = await principal(request, Scope.WRITE)
    name = path_name(request)
    dry_run = flag(request, "validate")
    spec, secret = spec_from_fields((await read_body(request)).value, path_name=name)
    svc = service(request)
    record = await call(_find, svc, caller, name)
    check_preconditions(request, None if record is None else etag(record))
    if record is None:
        await call(svc.check_create if dry_run else svc.create_credential, caller, spec, secret)
        return _created(name)
    await call(svc.check_replace if dry_run else svc.replace_credential, caller, spec, secret)
    return Response(status_code=204)


@endpoint
async def patch(request: Request) -> Response:
    caller = await principal(request, Scope.WRITE)
    name = path_name(request)
    dry_run = flag(request, "validate")
    body = await read_body(request)
    svc = service(request)
    record = await call(svc.get_credential_for_update, caller, name)
    check_preconditions(request, etag(record))
    patched = apply_patch(totp_config(record), body)
    if patched.get("name", name) != name:
        raise InvalidInput("name", "cannot be changed by PATCH")
    spec, secret = spec_from_fields(patched, path_name=name)
    await call(svc.check_replace if dry_run else svc.replace_credential, caller, spec, secret)
    return Response(status_code=204)


@endpoint
async def delete(request: Request) -> Response:
    caller = await principal(request, Scope.WRITE)
    name = path_name(request)
    dry_run = flag(request, "validate")
    svc = service(request)
    record = await call(svc.get_credential_for_update, caller, name)
    check_preconditions(request, etag(record))
    if not dry_run:
        await call(svc.delete_credential, caller, name)
    return Response(status_code=204)
