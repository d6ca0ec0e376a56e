"""`otpd client list|revoke|rotate|update` (docs/operations.md#api-clients-list-rotate-revoke).

`client create` is in cli.py; `rotate` prints its new key the way `create` does, once. Nothing
here prints a key hash, and `list` never a key.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from otpd.bootstrap import build_administration, build_runtime
from otpd.core import access
from otpd.core.errors import InvalidInput, OtpdError
from otpd.core.model import ApiClient, Scope
from otpd.settings import Settings

__all__ = ["VERBS", "add_verbs", "parse_scopes", "print_key", "run"]

VERBS = ("list", "revoke", "rotate", "update")
Common = Callable[..., None]
SCOPES_HELP = "comma list of " + ",".join(s.value for s in Scope)


def add_verbs(verbs: Any, common: Common) -> None:
    listing = verbs.add_parser("list", help="list API clients (never their keys)")
    listing.add_argument("--tenant", default=None, help="only this tenant's clients")
    listing.add_argument("--json", action="store_true", help="one JSON array instead of lines")
    common(listing, "data_dir", "database", "config")
    revoke = verbs.add_parser("revoke", help="delete a client; its key and tokens stop at once")
    _named(revoke)
    common(revoke, "data_dir", "database", "config")
    rotate = verbs.add_parser("rotate", help="give a client a new key; prints it once")
    _named(rotate)
    rotate.add_argument(
        "--grace",
        default="1h",
        type=_grace,
        help="how long the old key keeps working: 0, 90s, 15m, 1h, 2d (max 30d; default 1h)",
    )
    rotate.add_argument("--json", action="store_true", help="print one JSON object")
    common(rotate, "data_dir", "database", "config")
    update = verbs.add_parser("update", help="change a client's scopes (in force at once)")
    _named(update)
    update.add_argument("--scopes", required=True, help=SCOPES_HELP)
    common(update, "data_dir", "database", "config")


def _grace(text: str) -> int:
    """A bad --grace is a usage error (exit 2), found before anything is opened."""
    try:
        return access.parse_grace(text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(error.rule) from None


def _named(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant the client belongs to")
    parser.add_argument("--name", required=True, help="client name")


def parse_scopes(text: str) -> list[Scope]:
    try:
        return [Scope(s.strip()) for s in text.split(",") if s.strip()]
    except ValueError:
        raise OtpdError(f"scopes must be a {SCOPES_HELP}") from None


def _time(us: int) -> str | None:
    if us <= 0:
        return None
    return datetime.fromtimestamp(us / 1_000_000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _client_json(client: ApiClient) -> dict[str, Any]:
    return {
        "tenant": client.tenant,
        "name": client.name,
        "scopes": sorted(s.value for s in client.scopes),
        "created-at": _time(client.created_at * 1_000_000),
        "last-used-at": _time(client.last_used_at_us),
        # While a rotated-out key still works (the end of its grace), else null.
        "previous-key-expires-at": (
            _time(client.previous_key_expires_at_us) if client.previous_key_hash else None
        ),
    }


def _list(settings: Settings, tenant: str | None, *, as_json: bool) -> int:
    """Reads the store only: works while sealed, needs no seal key."""
    admin = build_administration(settings)
    try:
        clients = admin.access.list_clients(tenant)
    finally:
        admin.close()
    rows = [_client_json(c) for c in clients]
    if as_json:
        print(json.dumps(rows))
        return 0
    for row in rows:
        fields = [row["tenant"], row["name"], "scopes=" + ",".join(row["scopes"])]
        fields += [f"created={row['created-at']}", f"last-used={row['last-used-at'] or 'never'}"]
        if row["previous-key-expires-at"]:
            fields.append(f"old-key-until={row['previous-key-expires-at']}")
        print("\t".join(fields))
    return 0


def print_key(
    client: ApiClient, key: str, *, as_json: bool, extra: dict[str, Any] | None = None
) -> None:
    """A new key, as `client create` and `client rotate` show it: once."""
    scopes = sorted(s.value for s in client.scopes)
    body = {"tenant": client.tenant, "name": client.name, "scopes": scopes, "key": key}
    if as_json:
        print(json.dumps({**body, **(extra or {})}))
        return
    lines = [f"tenant: {client.tenant}", f"name: {client.name}", f"scopes: {','.join(scopes)}"]
    print("\n".join([*lines, f"key: {key}", "(the key is shown once; store it now)"]))


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.client_command == "list":
        return _list(settings, args.tenant, as_json=args.json)
    scopes = parse_scopes(args.scopes) if args.client_command == "update" else []
    runtime = build_runtime(settings)
    try:
        access = runtime.access
        if args.client_command == "revoke":
            access.revoke_client(args.tenant, args.name)
            print(f"client {args.name} of tenant {args.tenant} revoked; its tokens are deleted")
        elif args.client_command == "rotate":
            client, key = access.rotate_client(args.tenant, args.name, args.grace)
            until = _time(client.previous_key_expires_at_us) if args.grace else None
            print_key(client, key, as_json=args.json, extra={"previous-key-expires-at": until})
            if not args.json:
                print(f"the old key works until {until}" if until else "the old key is refused now")
        else:
            client = access.update_client_scopes(args.tenant, args.name, scopes)
            print(json.dumps(_client_json(client)))
        return 0
    finally:
        runtime.close()
