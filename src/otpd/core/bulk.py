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
from otpd.core.context import ServiceContext, outcome_of
from otpd.core.credential_service import CredentialService
from otpd.core.errors import AlreadyExists, ConfigError, NotFound, OtpdError
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
    """Given the credential and tenant ports, and the bulk port when the store has one
    (ports.BulkCredentialStore): without it, import says so and export still works."""

    def __init__(
        self,
        store: CredentialStateStore,
        tenants: TenantStore,
        sealer: Sealer,
        context: ServiceContext,
        credentials: CredentialService,
        bulk: BulkCredentialStore | None,
    ) -> None:
        self._store = store
        self._tenants = tenants
        self._sealer = sealer
        self._context = context
        self._credentials = credentials
        self._bulk_port = bulk

    def _bulk(self) -> BulkCredentialStore:
        if self._bulk_port is None:
            raise ConfigError("this database cannot import credentials")
        return self._bulk_port

    def now(self) -> int:
        """The time in seconds, for the replay floor of an import."""
        return self._context.now()

    def existing_names(self, principal: Principal, names: Sequence[str]) -> set[str]:
        self._check_writable(principal)
        return set(self._bulk().get_credentials_by_name(principal.tenant, names))

    def import_batch(
        self,
        principal: Principal,
        items: Sequence[ImportItem],
        on_conflict: Conflict,
        *,
        dry_run: bool = False,
    ) -> list[Written]:
        """Write one batch in one transaction. AlreadyExists (on_conflict=fail, or a name
        created meanwhile) or NotFound (a replaced row deleted meanwhile): nothing written.
        Each batch written is one `credential.import` event (its counts as the target), each
        refusal one with its kind; a dry run writes nothing and is not audited."""
        try:
            results = self._import_batch(principal, items, on_conflict, dry_run)
        except OtpdError as error:
            if not dry_run:
                self._report(principal, "credential.import", outcome_of(error))
            raise
        if not dry_run:
            counts = " ".join(f"{w.value}={results.count(w)}" for w in Written)
            self._report(principal, "credential.import", "ok", counts)
        return results

    def _import_batch(
        self,
        principal: Principal,
        items: Sequence[ImportItem],
        on_conflict: Conflict,
        dry_run: bool,
    ) -> list[Written]:
        self._check_writable(principal)
        bulk = self._bulk()
        current = bulk.get_credentials_by_name(principal.tenant, [i.spec.name for i in items])
        if current and on_conflict is Conflict.FAIL:
            raise AlreadyExists("name taken")
        for item in items:
            validate_secret(item.secret)
        inserts, replaces, results = self._plan(principal, items, current, on_conflict, dry_run)
        if inserts or replaces:
            bulk.write_credentials(inserts, replaces)
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
        ids = [] if dry_run or not fresh else self._bulk().allocate_credential_ids(len(fresh))
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
        scope reveal, and audited (one `credential.export` event, the count as its target,
        besides each secret's `credential.reveal`), since the result can mint codes for every
        user."""
        try:
            access.require(principal, Scope.REVEAL)
            require_unsealed(self._sealer)
            records = self._store.list_credentials(principal.tenant)
            chosen = [r for r in records if select is None or fnmatchcase(r.name, select)]
            result = [(r, self._credentials.secret_of(principal, r)) for r in chosen]
        except OtpdError as error:
            self._report(principal, "credential.export", outcome_of(error))
            raise
        self._report(principal, "credential.export", "ok", f"credentials={len(result)}")
        return result

    def _report(self, principal: Principal, action: str, outcome: str, target: str = "-") -> None:
        """One event; the counts go in the target, so the outcome stays one of a few words
        (the metrics count events by action and outcome)."""
        self._context.emit(
            action, outcome, tenant=principal.tenant, caller=principal.client, target=target
        )

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
