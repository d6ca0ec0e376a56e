"""`otpd rekey`, `otpd rotate-data-key` and `otpd status` (issue #14, docs/operations.md#keys).

Each works on a running deployment: the commands change rows in the shared database (and, for
an embedded rekey, the key file), and running instances keep serving with the keys they hold
(otpd.crypto.rekey, otpd.crypto.tenant_keys). Shares and keys are read from standard input,
never from arguments, and never printed except the new shares of a Shamir rekey.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from otpd.bootstrap import build_runtime, open_store
from otpd.core.errors import OtpdError
from otpd.core.ports import CredentialStore
from otpd.crypto.aead import FORMAT_TENANT
from otpd.crypto.reencrypt import key_usage
from otpd.crypto.rekey import PENDING, rekey_embedded, rekey_shamir_start, rekey_verify
from otpd.settings import Settings

__all__ = ["add_parsers", "handlers"]

Common = Callable[..., None]


def add_parsers(commands: Any, common: Common) -> None:
    rekey = commands.add_parser(
        "rekey",
        help="replace the seal key: a new seal.key, or new Shamir shares from a quorum of the old",
    )
    rekey.add_argument("--shares", type=int, help="Shamir: how many new shares to print")
    rekey.add_argument("--threshold", type=int, help="Shamir: new shares needed to unseal")
    rekey.add_argument(
        "--verify",
        action="store_true",
        help="Shamir: commit the pending rekey (new shares on stdin)",
    )
    rekey.add_argument("--json", action="store_true", help="print the new shares as JSON")
    common(rekey, "data_dir", "database", "config")
    rotate = commands.add_parser(
        "rotate-data-key", help="new data key version for every tenant (or --tenant)"
    )
    rotate.add_argument("--tenant", action="append", help="only this tenant (repeatable)")
    common(rotate, "data_dir", "database", "config")
    status = commands.add_parser(
        "status", help="seal mode, key versions and re-encryption progress as JSON"
    )
    common(status, "data_dir", "database", "config")


def handlers(settings_of: Callable[[argparse.Namespace], Settings]) -> dict[str, Any]:
    return {
        "rekey": lambda args: _rekey(args, settings_of(args)),
        "rotate-data-key": lambda args: _rotate(args, settings_of(args)),
        "status": lambda args: _status(settings_of(args)),
    }


def _stdin_shares() -> list[str]:
    """Shares, one a line on standard input (never an argument: `ps` shows those)."""
    return [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]


def _rekey(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    try:
        mode = json.loads(store.get_meta("seal_config") or "{}").get("mode")
        if mode != "shamir":
            if args.shares or args.threshold or args.verify:
                raise OtpdError("--shares, --threshold and --verify are for Shamir mode")
            rekey_embedded(settings.data_dir, store)
            print("seal key replaced: copy the new seal.key to every host that has one")
            return 0
        if args.verify:
            rekey_verify(store, _stdin_shares())
            print("rekey committed: the new shares unseal from now on")
            return 0
        if not args.shares or not args.threshold:
            raise OtpdError("Shamir rekey needs --shares and --threshold (old shares on stdin)")
        shares = rekey_shamir_start(
            store, _stdin_shares(), shares=args.shares, threshold=args.threshold
        )
    finally:
        store.close()
    if args.json:
        print(json.dumps({"threshold": args.threshold, "shares": shares, "pending": True}))
    else:
        print("\n".join(shares))
        print("(pending: run otpd rekey --verify with a quorum of these shares)", file=sys.stderr)
    return 0


def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    runtime = build_runtime(settings)
    try:
        sealer = runtime.sealer
        if sealer.is_sealed():  # Shamir: a quorum of shares on stdin opens the keyring here
            for share in _stdin_shares():
                sealer.submit_share(share)
        keys = sealer.tenant_keys()
        tenants = args.tenant or [t.id for t in runtime.store.list_tenants()]
        for tenant in tenants:
            if runtime.store.get_tenant(tenant) is None:
                raise OtpdError(f"no such tenant: {tenant}")
        rotated = {tenant: keys.rotate(tenant) for tenant in tenants}
    finally:
        runtime.close()
    print(json.dumps({"active": rotated}))
    return 0


def _status(settings: Settings) -> int:
    """Reads the store only: works while sealed, shows no key."""
    store = open_store(settings)
    try:
        print(json.dumps(key_status(store), sort_keys=True))
    finally:
        store.close()
    return 0


def key_status(store: CredentialStore) -> dict[str, Any]:
    rows: Any = store
    config = json.loads(store.get_meta("seal_config") or "{}")
    versions: dict[str, list[int]] = {}
    for key in rows.all_tenant_keys():
        versions.setdefault(key.tenant, []).append(key.version)
    sealed = list(_all_sealed_rows(rows))
    usage = key_usage(sealed)
    pending = sum(
        n
        for (tenant, fmt, version), n in usage.items()
        if fmt != FORMAT_TENANT or version != max(versions.get(tenant, [0]))
    )
    return {
        "seal": {"mode": config.get("mode"), "rekey_pending": store.get_meta(PENDING) is not None},
        "tenant_keys": {t: {"active": max(v), "versions": v} for t, v in versions.items()},
        "reencryption": {"sealed_rows": len(sealed), "pending": pending},
    }


def _all_sealed_rows(rows: Any) -> Any:
    after = 0
    while batch := rows.sealed_rows(after, 500):
        yield from batch
        after = int(batch[-1].ref)
    yield from rows.nas_sealed_rows()
