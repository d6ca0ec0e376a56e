"""The otpd command line (README.md#commands). Every option also reads OTPD_<NAME>.

Flags come from the settings declarations (otpd.cli_options); errors are one line on stderr
and a non-zero exit: 2 for usage, 1 for everything else.
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from otpd import cli_audit, cli_client, cli_keys, cli_tenant
from otpd.bootstrap import build_runtime, open_store
from otpd.cli_options import (
    EPILOG,
    Parser,
    Usage,
    add_settings,
    run_reporting,
    settings_from,
    version,
)
from otpd.console import cli as console_cli
from otpd.core.audit import RequestContext, request_context
from otpd.core.errors import OtpdError
from otpd.crypto import init_shamir
from otpd.settings import Settings
from otpd.transfer import cli as transfer_cli

__all__ = ["main"]


_common = add_settings  # (parser, *setting names): the flags a command takes


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="otpd", description="otpd one-time-password server", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"otpd {version()}")
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=Parser, metavar="COMMAND"
    )
    serve = commands.add_parser("serve", help="run the server (creates the data directory)")
    _common(serve, "data_dir", "database", "host", "port", "workers", "public_url", "config")
    _common(serve, "tls_cert", "tls_key", "tls_client_ca", "radius_listen")
    _common(serve, "log_format", "syslog", "metrics_listen")
    cli_tenant.add_parser(commands, _common, Parser)
    cli_audit.add_parser(commands, _common, Parser)
    _add_client_parsers(commands)
    init = commands.add_parser("init", help="new data directory with a Shamir-split seal key")
    init.add_argument("--shares", type=int, required=True, help="how many shares to print")
    init.add_argument("--threshold", type=int, required=True, help="shares needed to unseal")
    init.add_argument("--json", action="store_true", help="print the shares as one JSON object")
    _common(init, "data_dir", "database", "config")
    copy = commands.add_parser("copy", help="copy a deployment between SQLite and PostgreSQL")
    copy.add_argument(
        "--from", dest="source", required=True, help="sqlite:///PATH or postgresql://"
    )
    copy.add_argument("--to", dest="target", required=True, help="an empty database, same forms")
    _common(copy, "config")
    unseal = commands.add_parser(
        "unseal", help="give one share (prompted without echo, or read from standard input)"
    )
    unseal.add_argument(
        "--reset", action="store_true", help="discard the shares given; the nonce on stdin"
    )
    _common(unseal, "url")
    seal = commands.add_parser("seal", help="seal the running server (key: OTPD_KEY or stdin)")
    _common(seal, "url")
    # Removed: a key on the command line is visible to every local user in `ps`.
    seal.add_argument("--key", dest="removed_key", default=None, help=argparse.SUPPRESS)
    transfer_cli.add_parsers(commands, _common)  # import, export, backup, restore (issue #17)
    _add_nas_parser(commands)
    console_cli.add_parser(commands, _common, Parser)  # otpd admin create (issue #16)
    cli_keys.add_parsers(commands, _common)  # rekey, rotate-data-key, status (issue #14)
    return parser


def _add_client_parsers(commands: Any) -> None:
    client = commands.add_parser("client", help="manage API clients")
    client_commands = client.add_subparsers(
        dest="client_command", required=True, parser_class=Parser
    )
    create = client_commands.add_parser("create", help="create an API client; prints its key once")
    create.add_argument("--tenant", required=True, help="tenant the client belongs to")
    create.add_argument("--name", required=True, help="client name (its login name)")
    create.add_argument("--scopes", required=True, help=cli_client.SCOPES_HELP)
    create.add_argument("--json", action="store_true", help="print one JSON object")
    _common(create, "data_dir", "database", "config")
    cli_client.add_verbs(client_commands, _common)  # list, revoke, rotate, update (#14)

    credential = commands.add_parser("credential", help="manage credentials")
    credential_commands = credential.add_subparsers(
        dest="credential_command", required=True, parser_class=Parser
    )
    reset = credential_commands.add_parser(
        "reset", help="clear failures, backoff and a spent guess budget (not the replay state)"
    )
    reset.add_argument("--tenant", required=True, help="tenant of the credential")
    reset.add_argument("name", help="credential name")
    _common(reset, "data_dir", "database", "config")


def _settings(args: argparse.Namespace) -> Settings:
    """Settings for a command that needs an existing data directory."""
    return settings_from(args)


def _new_settings(args: argparse.Namespace) -> Settings:
    """Settings for a command that may create the data directory (serve, init)."""
    return settings_from(args, existing_data_dir=False)


def _cmd_serve(args: argparse.Namespace) -> int:
    from otpd.web.server import serve  # imported here: the admin commands need no web stack

    return serve(_new_settings(args))


def _cmd_client(args: argparse.Namespace) -> int:
    if args.client_command in cli_client.VERBS:
        return cli_client.run(args, _settings(args))
    scopes = cli_client.parse_scopes(args.scopes)
    runtime = build_runtime(_settings(args))
    try:
        client, key = runtime.access.create_client(args.tenant, args.name, scopes)
    finally:
        runtime.close()
    cli_client.print_key(client, key, as_json=args.json)
    return 0


def _cmd_credential(args: argparse.Namespace) -> int:
    """`credential reset`: docs/security.md. Works sealed too: it touches no secret."""
    runtime = build_runtime(_settings(args))
    try:
        runtime.credentials.reset_credential(args.tenant, args.name)
    finally:
        runtime.close()
    print(f"credential {args.name} of tenant {args.tenant}: failures cleared")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    settings = _new_settings(args)
    if not 1 <= args.threshold <= args.shares <= 255 or args.threshold < 2 <= args.shares:
        raise OtpdError("need 2 <= threshold <= shares <= 255 (or 1 of 1)")
    store = open_store(settings)
    try:
        shares = init_shamir(settings.data_dir, store, shares=args.shares, threshold=args.threshold)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"threshold": args.threshold, "shares": shares}))
    else:
        print("\n".join(shares))
    return 0


def _cmd_copy(args: argparse.Namespace) -> int:
    from otpd.store.copy import copy_database  # docs/scale-out.md

    settings = _new_settings(args)

    def prepare(url: str) -> None:
        open_store(replace(settings, database=url)).close()

    counts = copy_database(args.source, args.target, prepare)
    print(json.dumps(counts))
    return 0


def _post(url: str, body: dict[str, Any], key: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(  # noqa: S310 (settings accept http/https only)
        url, json.dumps(body).encode(), headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (http/https only)
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            return error.code, json.loads(error.read() or b"{}")
        except ValueError:
            return error.code, {}
    except (urllib.error.URLError, OSError) as error:
        raise OtpdError(f"cannot reach {url}: {getattr(error, 'reason', error)}") from None


def _report(status: int, body: dict[str, Any]) -> int:
    if status != 200:
        errors = body.get("errors") or [{}]
        raise OtpdError(f"server answered {status}: {errors[0].get('error-message', 'error')}")
    if body.get("sealed"):
        print(f"sealed: {body.get('progress', 0)} of {body.get('threshold', 0)} shares given")
        if body.get("nonce"):  # needed to reset this unseal: `otpd unseal --reset`
            print(f"nonce: {body['nonce']}")
    else:
        print("unsealed")
    return 0


def _cmd_unseal(args: argparse.Namespace) -> int:
    settings = _new_settings(args)
    url = settings.url + "/v1/state/strongbox/system/unseal"
    if sys.stdin.isatty():  # a share is a secret: never echoed on the terminal
        line = getpass.getpass("nonce: " if args.reset else "share: ").strip()
    else:
        line = sys.stdin.readline().strip()
    if args.reset:
        if not line:
            raise OtpdError("no nonce on standard input (otpd unseal printed it with the share)")
        return _report(*_post(url, {"reset": True, "nonce": line}))
    if not line:
        raise OtpdError("no share on standard input")
    return _report(*_post(url, {"share": line}))


def _cmd_seal(args: argparse.Namespace) -> int:
    if args.removed_key is not None:
        raise Usage("seal --key is removed (it shows the key in ps): set OTPD_KEY or pipe it")
    settings = _new_settings(args)
    if settings.key:
        key = settings.key
    elif sys.stdin.isatty():
        key = getpass.getpass("API key with scope seal: ").strip()  # not echoed
    else:
        key = sys.stdin.readline().strip()
    if not key:
        raise OtpdError("seal needs an API key with scope seal: set OTPD_KEY or pipe it on stdin")
    return _report(*_post(settings.url + "/v1/state/strongbox/system/seal", {}, key))


def _add_nas_parser(commands: Any) -> None:
    """`otpd nas ...` (issue #15) when the radius extra is installed."""
    try:
        from otpd.radius import cli as nas_cli
    except ImportError:  # pyrad missing: no RADIUS front-end in this install
        return
    nas_cli.add_parser(commands, _common, Parser)


def _cmd_nas(args: argparse.Namespace) -> int:
    from otpd.radius import cli as nas_cli

    runtime = build_runtime(_settings(args))
    try:
        return nas_cli.run(args, runtime)
    finally:
        runtime.close()


def _cmd_admin(args: argparse.Namespace) -> int:
    runtime = build_runtime(_settings(args))
    try:
        return console_cli.run(args, runtime)
    finally:
        runtime.close()


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "serve": _cmd_serve,
    "tenant": lambda args: cli_tenant.run(args, _settings(args)),
    "audit": lambda args: cli_audit.run(args, _settings(args)),
    "client": _cmd_client,
    "credential": _cmd_credential,
    "init": _cmd_init,
    "copy": _cmd_copy,
    "unseal": _cmd_unseal,
    "seal": _cmd_seal,
    **transfer_cli.handlers(_settings),
    "nas": _cmd_nas,
    "admin": _cmd_admin,
    **cli_keys.handlers(_settings),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Errors are one line on stderr and a non-zero exit: 2 for usage, 1 for the rest."""
    args = _parser().parse_args(argv)
    # The audit trail names who acted: for an administration command, the local user.
    context = RequestContext(request_id="cli-" + secrets.token_hex(4), source="local")
    context.caller = "cli:" + _user()
    with request_context(context):
        return run_reporting(lambda: _COMMANDS[args.command](args))


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container with an unknown uid)
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
