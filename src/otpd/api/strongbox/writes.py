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


async def _existing(
    request: Request, svc: CredentialService, caller: Principal, name: str
) -> CredentialRecord:
    """The credential a PATCH or DELETE acts on (404 when missing), after its preconditions."""
    record: CredentialRecord = await call(svc.get_credential_for_update, caller, name)
    check_preconditions(request, etag(record))
    return record


def _conditional(request: Request, record: CredentialRecord) -> int | None:
    """The version a write must still find when the client made it conditional (If-Match):
    the check above and the write below are then one compare-and-set in the store."""
    return record.version if "if-match" in request.headers else None


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
    if dry_run:
        await call(svc.check_replace, caller, spec, secret)
    else:
        expected = _conditional(request, record)
        await call(svc.replace_credential, caller, spec, secret, expect_version=expected)
    return Response(status_code=204)


@endpoint
async def patch(request: Request) -> Response:
    caller = await principal(request, Scope.WRITE)
    name = path_name(request)
    dry_run = flag(request, "validate")
    body = await read_body(request)
    svc = service(request)
    record = await _existing(request, svc, caller, name)
    patched = apply_patch(totp_config(record), body)
    if patched.get("name", name) != name:
        raise InvalidInput("name", "cannot be changed by PATCH")
    spec, secret = spec_from_fields(patched, path_name=name)
    if dry_run:
        await call(svc.check_replace, caller, spec, secret)
    else:
        # Always conditional: the patch was applied to the version read above, so a write
        # that landed in between must not be silently overwritten (a lost update).
        await call(svc.replace_credential, caller, spec, secret, expect_version=record.version)
    return Response(status_code=204)


@endpoint
async def delete(request: Request) -> Response:
    caller = await principal(request, Scope.WRITE)
    name = path_name(request)
    dry_run = flag(request, "validate")
    svc = service(request)
    record = await _existing(request, svc, caller, name)
    if not dry_run:
        await call(
            svc.delete_credential, caller, name, expect_version=_conditional(request, record)
        )
    return Response(status_code=204)
