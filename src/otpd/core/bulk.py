"""Bulk import and export of credentials (issue #17, docs/migrate.md).

Imported secrets are sealed exactly as create_credential seals them (bound to tenant and
credential id), but a batch is written in one store transaction: a batch is imported whole
or not at all, and thousands of rows cost one commit instead of thousands.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from fnmatch import fnmatchcase

from otpd.core import access
from otpd.core.context import ServiceContext, audit_log
from otpd.core.credential_service import CredentialService
from otpd.core.errors import AlreadyExists, ConfigError, NotFound
from otpd.core.model import (
    CredentialRecord,
    CredentialSpec,
    Principal,
    Scope,
    SecretBytes,
    validate_secret,
)
from otpd.core.ports import BulkCredentialStore, CredentialStateStore, Sealer, TenantStore
from otpd.core.seal_service import require_unsealed

__all__ = ["BulkService", "Conflict", "ImportItem", "Written"]


class Conflict(StrEnum):
    FAIL = "fail"
    SKIP = "skip"
    REPLACE = "replace"


class Written(StrEnum):
    IMPORTED = "imported"
    REPLACED = "replaced"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class ImportItem:
    spec: CredentialSpec
    secret: SecretBytes
    last_step: int  # the replay floor: codes of this step and earlier are refused


class BulkService:
    """Given the credential and tenant ports; the bulk port is the same store's, when it has
    one (ports.BulkCredentialStore)."""

    def __init__(
        self,
        store: CredentialStateStore,
        tenants: TenantStore,
        sealer: Sealer,
        context: ServiceContext,
        credentials: CredentialService,
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._sealer = sealer
        self._context = context
        self._credentials = credentials

    @property
    def store(self) -> BulkCredentialStore:
        store = self._store
        if not isinstance(store, BulkCredentialStore):
            raise ConfigError("this database cannot import credentials")
        return store

    def now(self) -> int:
        """The time in seconds, for the replay floor of an import."""
        return self._context.now()

    def existing_names(self, principal: Principal, names: Sequence[str]) -> set[str]:
        self._check_writable(principal)
        return set(self.store.get_credentials_by_name(principal.tenant, names))

    def import_batch(
        self,
        principal: Principal,
        items: Sequence[ImportItem],
        on_conflict: Conflict,
        *,
        dry_run: bool = False,
    ) -> list[Written]:
        """Write one batch in one transaction. AlreadyExists (on_conflict=fail, or a name
        created meanwhile) or NotFound (a replaced row deleted meanwhile): nothing written."""
        self._check_writable(principal)
        tenant = principal.tenant
        current = self.store.get_credentials_by_name(tenant, [i.spec.name for i in items])
        if current and on_conflict is Conflict.FAIL:
            raise AlreadyExists("name taken")
        for item in items:
            validate_secret(item.secret)
        inserts, replaces, results = self._plan(principal, items, current, on_conflict, dry_run)
        if inserts or replaces:
            self.store.write_credentials(inserts, replaces)
            audit_log.info(
                "import tenant=%s client=%s imported=%d replaced=%d",
                tenant,
                principal.client,
                len(inserts),
                len(replaces),
            )
        return results

    def _plan(
        self,
        principal: Principal,
        items: Sequence[ImportItem],
        current: Mapping[str, CredentialRecord],
        on_conflict: Conflict,
        dry_run: bool,
    ) -> tuple[list[CredentialRecord], list[CredentialRecord], list[Written]]:
        """The rows to insert and to replace, and each item's result, in the items' order."""
        fresh = [i for i in items if i.spec.name not in current]
        ids = [] if dry_run or not fresh else self.store.allocate_credential_ids(len(fresh))
        now_us = self._context.now_us()
        inserts: list[CredentialRecord] = []
        replaces: list[CredentialRecord] = []
        results: list[Written] = []
        for item in items:
            old = current.get(item.spec.name)
            if old is not None and on_conflict is Conflict.SKIP:
                results.append(Written.SKIPPED)
                continue
            results.append(Written.IMPORTED if old is None else Written.REPLACED)
            if dry_run:
                continue
            credential_id = old.id if old is not None else ids[len(inserts)]
            record = self._record(principal.tenant, credential_id, item, now_us, old)
            (inserts if old is None else replaces).append(record)
        return inserts, replaces, results

    def export(
        self, principal: Principal, select: str | None = None
    ) -> list[tuple[CredentialRecord, SecretBytes]]:
        """Every credential of the tenant (whose name matches the glob) with its secret:
        scope reveal, and audited, since the result can mint codes for every user."""
        access.require(principal, Scope.REVEAL)
        require_unsealed(self._sealer)
        records = self._store.list_credentials(principal.tenant)
        chosen = [r for r in records if select is None or fnmatchcase(r.name, select)]
        result = [(r, self._credentials.secret_of(principal, r)) for r in chosen]
        audit_log.info(
            "export tenant=%s client=%s credentials=%d",
            principal.tenant,
            principal.client,
            len(result),
        )
        return result

    def _record(
        self,
        tenant: str,
        credential_id: int,
        item: ImportItem,
        now_us: int,
        old: CredentialRecord | None,
    ) -> CredentialRecord:
        sealed = self._sealer.seal_secret(item.secret, tenant=tenant, credential_id=credential_id)
        record = CredentialRecord.from_spec(
            item.spec,
            credential_id=credential_id,
            tenant=tenant,
            key_size=len(item.secret),
            created_at_us=old.created_at_us if old is not None else now_us,
            sealed_secret=sealed,
        )
        return replace(record, last_step=item.last_step)

    def _check_writable(self, principal: Principal) -> None:
        access.require(principal, Scope.WRITE)
        access.require_credential_tenant(principal)
        require_unsealed(self._sealer)
        if self._tenants.get_tenant(principal.tenant) is None:
            raise NotFound("no such tenant")
