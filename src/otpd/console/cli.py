"""`otpd admin create` (issue #16): a console admin with an argon2id password and a TOTP
credential enrolled at creation. The password is read from standard input (first line), never
from the command line, where every local user could read it in `ps`."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from otpd.console.gate import ConsoleRuntime

__all__ = ["add_parser", "run"]


def add_parser(
    commands: Any, common: Callable[..., None], parser_class: type[argparse.ArgumentParser]
) -> None:
    admin = commands.add_parser("admin", help="manage admin console accounts (docs/console.md)")
    verbs = admin.add_subparsers(dest="admin_command", required=True, parser_class=parser_class)
    create = verbs.add_parser(
        "create", help="add an admin; reads its password on stdin, prints its TOTP URI once"
    )
    scope = create.add_mutually_exclusive_group(required=True)
    scope.add_argument("--tenant", help="the one tenant this admin sees")
    scope.add_argument("--all", action="store_true", help="the admin sees every tenant")
    create.add_argument("name", help="the admin's sign-in name")
    create.add_argument("--json", action="store_true", help="print {name, uri} as JSON")
    common(create, "data_dir", "database", "config")


def _password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password for the new admin: ")
    return sys.stdin.readline().rstrip("\r\n")


def run(args: argparse.Namespace, runtime: ConsoleRuntime) -> int:
    from otpd.console import gate  # needs the console extra (argon2-cffi)

    uri = gate.create_admin(runtime, args.name, None if args.all else args.tenant, _password())
    if args.json:
        print(json.dumps({"name": args.name, "uri": uri}))
    else:
        print(f"admin {args.name} created; add this to an authenticator app (shown once):")
        print(uri)
    return 0
