"""POST (create), PUT (create or replace), PATCH (merge patch or JSON Patch) and DELETE of a
TOTP. `validate=true` runs every check of the real call and changes nothing (docs/api-strongbox.md).

Each handler reads the bearer, query, precondition headers and raw body on the loop; the
worker function authenticates (scope write), parses, checks the preconditions against the
stored ETag and writes, all in the request's one hop.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from otpd.api.common import ApiRuntime, bearer_token, one_hop, runtime_of
from otpd.api.strongbox.context import Conditions, Config, RawBody, flag, path_name
from otpd.api.strongbox.openapi import CONFIG
from otpd.api.strongbox.parse import apply_patch, spec_from_fields
from otpd.api.strongbox.render import etag, totp_config
from otpd.core.access_service import AccessService
from otpd.core.credential_service import CredentialService
from otpd.core.errors import InvalidInput, NotFound
from otpd.core.model import CredentialRecord, Principal, Scope

__all__ = ["create", "delete", "patch", "put"]


@dataclass(frozen=True)
class Write:
    """What a write request brought, read on the event loop."""

    token: str | None
    query: QueryParams
    conditions: Conditions
    body: RawBody | None = None
    name: str = ""

    @classmethod
    async def read(cls, request: Request, *, body: bool = True, name: bool = True) -> Write:
        return cls(
            bearer_token(request.headers),
            request.query_params,
            Conditions.of(request),
            await RawBody.read(request) if body else None,
            path_name(request) if name else "",
        )

    def begin(self, access: AccessService) -> tuple[Principal, bool]:
        """The caller (scope write, before any body rule: 403 before 400) and validate=."""
        return access.authenticate_token(self.token, Scope.WRITE), flag(self.query, "validate")

    def fields(self) -> object:
        assert self.body is not None
        return self.body.parse().value


def _created(name: str) -> Response:
    # Names match [A-Za-z0-9][A-Za-z0-9._@+-]*, so they are safe in a path as they are.
    return Response(status_code=201, headers={"Location": f"{CONFIG}/{name}"})


def _create(runtime: ApiRuntime, write: Write) -> str:
    caller, dry_run = write.begin(runtime.access)
    credentials = runtime.credentials
    spec, secret = spec_from_fields(write.fields())
    (credentials.check_create if dry_run else credentials.create_credential)(caller, spec, secret)
    return spec.name


async def create(request: Request, config: Config) -> Response:
    write = await Write.read(request, name=False)
    return _created(await one_hop(request, _create, runtime_of(request), write))


def _find(credentials: CredentialService, caller: Principal, name: str) -> CredentialRecord | None:
    try:
        return credentials.get_credential_for_update(caller, name)
    except NotFound:
        return None


def _existing(credentials: CredentialService, caller: Principal, write: Write) -> CredentialRecord:
    """The credential a PATCH or DELETE acts on (404 when missing), after its preconditions."""
    record = credentials.get_credential_for_update(caller, write.name)
    write.conditions.check(etag(record))
    return record


def _expected(write: Write, record: CredentialRecord) -> int | None:
    """The version a write must still find when the client made it conditional (If-Match):
    the check and the write are then one compare-and-set in the store."""
    return record.version if write.conditions.conditional else None


def _put(runtime: ApiRuntime, write: Write) -> bool:
    """True when created, False when replaced."""
    caller, dry_run = write.begin(runtime.access)
    credentials = runtime.credentials
    spec, secret = spec_from_fields(write.fields(), path_name=write.name)
    record = _find(credentials, caller, write.name)
    write.conditions.check(None if record is None else etag(record))
    if record is None:
        (credentials.check_create if dry_run else credentials.create_credential)(
            caller, spec, secret
        )
        return True
    if dry_run:
        credentials.check_replace(caller, spec, secret)
    else:
        credentials.replace_credential(
            caller, spec, secret, expect_version=_expected(write, record)
        )
    return False


async def put(request: Request, config: Config) -> Response:
    """Replace or create: 201 when created, 204 when replaced. A replace without
    `passcode32` keeps the secret unless the key size changes
    (CredentialService.replace_credential)."""
    write = await Write.read(request)
    if await one_hop(request, _put, runtime_of(request), write):
        return _created(write.name)
    return Response(status_code=204)


def _patch(runtime: ApiRuntime, write: Write) -> None:
    caller, dry_run = write.begin(runtime.access)
    credentials = runtime.credentials
    assert write.body is not None
    body = write.body.parse()
    record = _existing(credentials, caller, write)
    patched = apply_patch(totp_config(record), body)
    if patched.get("name", write.name) != write.name:
        raise InvalidInput("name", "cannot be changed by PATCH")
    spec, secret = spec_from_fields(patched, path_name=write.name)
    if dry_run:
        credentials.check_replace(caller, spec, secret)
    else:
        # Always conditional: the patch was applied to the version read above, so a write
        # that landed in between must not be silently overwritten (a lost update).
        credentials.replace_credential(caller, spec, secret, expect_version=record.version)


async def patch(request: Request, config: Config) -> Response:
    write = await Write.read(request)
    await one_hop(request, _patch, runtime_of(request), write)
    return Response(status_code=204)


def _delete(runtime: ApiRuntime, write: Write) -> None:
    caller, dry_run = write.begin(runtime.access)
    credentials = runtime.credentials
    record = _existing(credentials, caller, write)
    if not dry_run:
        credentials.delete_credential(caller, write.name, expect_version=_expected(write, record))


async def delete(request: Request, config: Config) -> Response:
    write = await Write.read(request, body=False)
    await one_hop(request, _delete, runtime_of(request), write)
    return Response(status_code=204)
