"""`otpd tenant create|update|show|list|delete` (docs/operations.md#tenants)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from otpd.bootstrap import build_administration, build_runtime, open_store
from otpd.core.errors import InvalidInput
from otpd.core.model import PhenixAuth, Tenant, validate_issuer
from otpd.core.tenants import validate_operations, validate_subjects
from otpd.settings import Settings
from otpd.subjects import canonical_subject

__all__ = ["add_parser", "run"]

Common = Callable[..., None]


def add_parser(commands: Any, common: Common, parser_class: type[argparse.ArgumentParser]) -> None:
    tenant = commands.add_parser("tenant", help="manage tenants")
    verbs = tenant.add_subparsers(dest="tenant_command", required=True, parser_class=parser_class)
    for verb in ("create", "update"):
        sub = verbs.add_parser(verb, help=f"{verb} a tenant; prints it as JSON")
        sub.add_argument("tenant", help="tenant id")
        sub.add_argument(
            "--phenixid-auth",
            choices=[a.value for a in PhenixAuth],
            default=None,
            help="how PhenixID callers authenticate (docs/api-phenixid.md)",
        )
        _tenant_options(sub)
        common(sub, "data_dir", "database", "config")
    show = verbs.add_parser("show", help="show a tenant as JSON")
    show.add_argument("tenant", help="tenant id")
    common(show, "data_dir", "database", "config")
    delete = verbs.add_parser("delete", help="delete a tenant and everything it owns")
    delete.add_argument("tenant", help="tenant id")
    delete.add_argument(
        "--force", action="store_true", help="also when it still has credentials, clients or NAS"
    )
    delete.add_argument(
        "--erase",
        action="store_true",
        help="also destroy its data keys: every copy of its secrets becomes unreadable",
    )
    common(delete, "data_dir", "database", "config")
    listing = verbs.add_parser("list", help="list tenants with their credential counts")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of lines")
    common(listing, "data_dir", "database", "config")


def _list(settings: Settings, *, as_json: bool) -> int:
    """Reads the store only: listing needs no seal key and works while sealed."""
    store = open_store(settings)
    try:
        rows = [(t, store.count_credentials(t.id)) for t in store.list_tenants()]
    finally:
        store.close()
    if as_json:
        print(json.dumps([{**_tenant_json(t), "credentials": n} for t, n in rows]))
    else:
        for tenant, count in rows:
            print(f"{tenant.id}\tcredentials={count}\tphenixid-auth={tenant.phenixid_auth.value}")
    return 0


def _tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant": tenant.id,
        "phenixid-auth": tenant.phenixid_auth.value,
        "allowed-operations": list(tenant.allowed_operations),
        "client-cert-subjects": list(tenant.client_cert_subjects),
        "issuer": tenant.issuer,
    }


def _tenant_options(parser: argparse.ArgumentParser) -> None:
    """PhenixID tenant settings (docs/api-phenixid.md). A given list replaces the old one."""
    parser.add_argument(
        "--allowed-operation",
        action="append",
        default=None,
        help="PhenixID allowedOperation (repeatable or a comma list; '' allows none)",
    )
    parser.add_argument(
        "--client-cert-subject",
        action="append",
        default=None,
        help="allowed client certificate subject, RFC 4514 as CN=x,O=y,C=SE (repeatable)",
    )
    parser.add_argument(
        "--issuer",
        default=None,
        help="QR label prefix and issuer of the tenant's credentials, e.g. the company "
        "(docs/operations.md#tenants; '' restores the default)",
    )
    parser.add_argument(
        "--clear-client-cert-subjects",
        action="store_true",
        help="allow no client certificate subject (before any --client-cert-subject)",
    )


def _tenant_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The tenant settings the flags ask for, all checked before anything is written."""
    changes: dict[str, Any] = {}
    if args.phenixid_auth:
        changes["phenixid_auth"] = PhenixAuth(args.phenixid_auth)
    if args.allowed_operation is not None:
        names = [n.strip() for value in args.allowed_operation for n in value.split(",")]
        changes["allowed_operations"] = validate_operations(n for n in names if n)
    if args.issuer is not None:
        changes["issuer"] = validate_issuer(args.issuer) if args.issuer else None
    if args.clear_client_cert_subjects:
        changes["client_cert_subjects"] = ()
    if args.client_cert_subject:
        try:
            subjects = [canonical_subject(s) for s in args.client_cert_subject]
        except ValueError:
            raise InvalidInput(
                "client-cert-subject", "must be an RFC 4514 name such as CN=client,O=Example,C=SE"
            ) from None
        changes["client_cert_subjects"] = validate_subjects(subjects)
    return changes


def _warn_open_or_closed(tenant: Tenant) -> None:
    if tenant.phenixid_auth is PhenixAuth.NONE:
        warning = f"PhenixID callers of {tenant.id} are not authenticated"
    elif tenant.phenixid_auth is PhenixAuth.CLIENT_CERT and not tenant.client_cert_subjects:
        warning = f"no client certificate subject may call {tenant.id} yet"
    else:
        return
    print(f"otpd: warning: {warning}", file=sys.stderr)


def _delete(settings: Settings, args: argparse.Namespace) -> int:
    """The database only: works while sealed. One transaction (store.key_rows)."""
    admin = build_administration(settings)
    try:
        deleted = admin.access.delete_tenant(args.tenant, force=args.force, erase=args.erase)
    finally:
        admin.close()
    print(json.dumps({"deleted": args.tenant, "erased": args.erase, "rows": deleted}))
    return 0


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.tenant_command == "list":
        return _list(settings, as_json=args.json)
    if args.tenant_command == "delete":
        return _delete(settings, args)
    runtime = build_runtime(settings)
    try:
        access = runtime.access
        if args.tenant_command == "show":
            tenant = access.get_tenant(args.tenant)
        else:
            changes = _tenant_changes(args)
            if args.tenant_command == "create":
                tenant = access.create_tenant(args.tenant)
            else:
                tenant = access.get_tenant(args.tenant)
            tenant = replace(tenant, **changes)
            access.update_tenant(tenant)
            _warn_open_or_closed(tenant)
        print(json.dumps(_tenant_json(tenant)))
        return 0
    finally:
        runtime.close()
