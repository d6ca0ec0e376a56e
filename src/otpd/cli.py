"""The otpd command line, exactly as NOTES.md §6. Every option also reads OTPD_<NAME>.

Errors are one line on stderr and a non-zero exit: 2 for usage, 1 for everything else.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from otpd.bootstrap import build_runtime, open_store
from otpd.console import cli as console_cli
from otpd.core.errors import InvalidInput, OtpdError
from otpd.core.model import PhenixAuth, Scope, Tenant
from otpd.core.tenants import validate_operations, validate_subjects
from otpd.crypto import init_shamir
from otpd.settings import Settings, load_settings
from otpd.subjects import canonical_subject
from otpd.transfer import cli as transfer_cli

__all__ = ["main"]


class _Usage(OtpdError):
    """A usage error found after parsing: exit status 2, as argparse's own."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"otpd: error: {message} (see otpd --help)\n")


def _common(parser: argparse.ArgumentParser, *names: str) -> None:
    helps = {
        "data_dir": "data directory (OTPD_DATA_DIR, default ./otpd-data)",
        "database": "database URL (OTPD_DATABASE)",
        "host": "listen address (OTPD_HOST, default 127.0.0.1)",
        "port": "listen port, 0 = any free (OTPD_PORT, default 8080)",
        "workers": "server processes (OTPD_WORKERS, default 1)",
        "public_url": "base URL clients see (OTPD_PUBLIC_URL)",
        "url": "URL of the running server (OTPD_URL, default http://127.0.0.1:8080)",
        "key": "API key with scope seal (OTPD_KEY)",
        "config": "YAML settings file (OTPD_CONFIG)",
        "tls_cert": "serve HTTPS with this certificate chain, PEM (OTPD_TLS_CERT)",
        "tls_key": "its private key, PEM (OTPD_TLS_KEY; default: in --tls-cert)",
        "tls_client_ca": "require client certificates from these CAs, PEM (OTPD_TLS_CLIENT_CA)",
        "radius_listen": "serve RADIUS on UDP ADDR[:PORT], port 1812 (OTPD_RADIUS_LISTEN)",
    }
    for name in names:
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, default=None, help=helps[name]
        )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="otpd", description="otpd one-time-password server")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = commands.add_parser("serve", help="run the server")
    _common(serve, "data_dir", "database", "host", "port", "workers", "public_url", "config")
    _common(serve, "tls_cert", "tls_key", "tls_client_ca", "radius_listen")

    tenant = commands.add_parser("tenant", help="manage tenants")
    tenant_commands = tenant.add_subparsers(
        dest="tenant_command", required=True, parser_class=_Parser
    )
    for verb in ("create", "update"):
        sub = tenant_commands.add_parser(verb, help=f"{verb} a tenant")
        sub.add_argument("tenant")
        sub.add_argument("--phenixid-auth", choices=[a.value for a in PhenixAuth], default=None)
        _tenant_options(sub)
        _common(sub, "data_dir", "database", "config")
    show = tenant_commands.add_parser("show", help="show a tenant as JSON")
    show.add_argument("tenant")
    _common(show, "data_dir", "database", "config")

    client = commands.add_parser("client", help="manage API clients")
    client_commands = client.add_subparsers(
        dest="client_command", required=True, parser_class=_Parser
    )
    create = client_commands.add_parser("create", help="create an API client; prints its key once")
    create.add_argument("--tenant", required=True)
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scopes", required=True, help="comma list of " + ",".join(s.value for s in Scope)
    )
    create.add_argument("--json", action="store_true")
    _common(create, "data_dir", "database", "config")

    credential = commands.add_parser("credential", help="manage credentials")
    credential_commands = credential.add_subparsers(
        dest="credential_command", required=True, parser_class=_Parser
    )
    reset = credential_commands.add_parser(
        "reset", help="clear failures, backoff and a spent guess budget (not the replay state)"
    )
    reset.add_argument("--tenant", required=True)
    reset.add_argument("name")
    _common(reset, "data_dir", "database", "config")

    init = commands.add_parser("init", help="new data directory with a Shamir-split seal key")
    init.add_argument("--shares", type=int, required=True)
    init.add_argument("--threshold", type=int, required=True)
    init.add_argument("--json", action="store_true")
    _common(init, "data_dir", "database", "config")

    copy = commands.add_parser("copy", help="copy a deployment between SQLite and PostgreSQL")
    copy.add_argument(
        "--from", dest="source", required=True, help="sqlite:///PATH or postgresql://"
    )
    copy.add_argument("--to", dest="target", required=True, help="an empty database, same forms")
    _common(copy, "config")

    unseal = commands.add_parser("unseal", help="give one share (read from standard input)")
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
    console_cli.add_parser(commands, _common, _Parser)  # otpd admin create (issue #16)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    names: tuple[str, ...] = ("data_dir", "database", "host", "port", "workers", "public_url")
    names += ("url", "key", "tls_cert", "tls_key", "tls_client_ca", "radius_listen")
    flags = {name: getattr(args, name, None) for name in names}
    config = getattr(args, "config", None)
    return load_settings(flags, config_file=Path(config) if config else None)


def _tenant_json(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenant": tenant.id,
        "phenixid-auth": tenant.phenixid_auth.value,
        "allowed-operations": list(tenant.allowed_operations),
        "client-cert-subjects": list(tenant.client_cert_subjects),
    }


def _cmd_serve(args: argparse.Namespace) -> int:
    from otpd.web.server import serve  # imported here: the admin commands need no web stack

    return serve(_settings(args))


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
    parser.add_argument("--clear-client-cert-subjects", action="store_true")


def _tenant_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The tenant settings the flags ask for, all checked before anything is written."""
    changes: dict[str, Any] = {}
    if args.phenixid_auth:
        changes["phenixid_auth"] = PhenixAuth(args.phenixid_auth)
    if args.allowed_operation is not None:
        names = [n.strip() for value in args.allowed_operation for n in value.split(",")]
        changes["allowed_operations"] = validate_operations(n for n in names if n)
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


def _cmd_tenant(args: argparse.Namespace) -> int:
    runtime = build_runtime(_settings(args))
    try:
        service = runtime.service
        if args.tenant_command == "show":
            tenant = service.get_tenant(args.tenant)
        else:
            changes = _tenant_changes(args)
            if args.tenant_command == "create":
                tenant = service.create_tenant(args.tenant)
            else:
                tenant = service.get_tenant(args.tenant)
            tenant = replace(tenant, **changes)
            service.update_tenant(tenant)
            _warn_open_or_closed(tenant)
        print(json.dumps(_tenant_json(tenant)))
        return 0
    finally:
        runtime.close()


def _cmd_client(args: argparse.Namespace) -> int:
    try:
        scopes = [Scope(s.strip()) for s in args.scopes.split(",") if s.strip()]
    except ValueError:
        raise OtpdError(
            "scopes must be a comma list of " + ",".join(s.value for s in Scope)
        ) from None
    runtime = build_runtime(_settings(args))
    try:
        client, key = runtime.service.create_client(args.tenant, args.name, scopes)
    finally:
        runtime.close()
    if args.json:
        print(
            json.dumps(
                {
                    "tenant": client.tenant,
                    "name": client.name,
                    "scopes": sorted(s.value for s in client.scopes),
                    "key": key,
                }
            )
        )
    else:
        print(
            f"tenant: {client.tenant}\nname: {client.name}\n"
            f"scopes: {','.join(sorted(s.value for s in client.scopes))}\n"
            f"key: {key}\n(the key is shown once; store it now)"
        )
    return 0


def _cmd_credential(args: argparse.Namespace) -> int:
    """`credential reset`: docs/security.md. Works sealed too: it touches no secret."""
    runtime = build_runtime(_settings(args))
    try:
        runtime.service.reset_credential(args.tenant, args.name)
    finally:
        runtime.close()
    print(f"credential {args.name} of tenant {args.tenant}: failures cleared")
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    settings = _settings(args)
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

    settings = _settings(args)

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
    settings = _settings(args)
    url = settings.url + "/v1/state/strongbox/system/unseal"
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
        raise _Usage("seal --key is removed (it shows the key in ps): set OTPD_KEY or pipe it")
    settings = _settings(args)
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
    nas_cli.add_parser(commands, _common, _Parser)


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
    "tenant": _cmd_tenant,
    "client": _cmd_client,
    "credential": _cmd_credential,
    "init": _cmd_init,
    "copy": _cmd_copy,
    "unseal": _cmd_unseal,
    "seal": _cmd_seal,
    **transfer_cli.handlers(_settings),
    "nas": _cmd_nas,
    "admin": _cmd_admin,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _COMMANDS[args.command](args)
    except OtpdError as error:
        print(f"otpd: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, _Usage) else 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
