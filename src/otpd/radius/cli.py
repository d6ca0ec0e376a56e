"""`otpd nas ...`: RADIUS NAS clients of a tenant (docs/radius.md#nas). Hooked into otpd.cli.

The shared secret is made here, printed once by `create` (and `update --new-secret`), and
stored sealed; `list` never shows it. In Shamir mode `create` and `update` read the unseal
shares from standard input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from otpd.bootstrap import Runtime
from otpd.core.errors import InvalidInput, OtpdError
from otpd.core.nas import (
    MaPolicy,
    NasClient,
    NasMode,
    check_reply_attributes,
    parse_networks,
    validate_nas_name,
)
from otpd.radius.codec import check_reply_attribute
from otpd.radius.gate import gate_for

__all__ = ["add_parser", "run"]


_STORE = ("data_dir", "database", "config")  # the common options every verb takes


def add_parser(
    commands: Any, common: Callable[..., None], parser_class: type[argparse.ArgumentParser]
) -> None:
    nas = commands.add_parser("nas", help="manage RADIUS NAS clients (docs/radius.md)")
    verbs = nas.add_subparsers(dest="nas_command", required=True, parser_class=parser_class)
    create = verbs.add_parser("create", help="add a NAS; prints its shared secret once")
    _nas_options(create, common, creating=True)
    update = verbs.add_parser("update", help="change a NAS (a given list replaces the old one)")
    _nas_options(update, common, creating=False)
    update.add_argument("--new-secret", action="store_true", help="replace the shared secret")
    listing = verbs.add_parser("list", help="list NAS clients (never their secrets)")
    listing.add_argument("--tenant", default=None, help="only this tenant's NAS clients")
    common(listing, *_STORE)
    delete = verbs.add_parser("delete", help="delete a NAS")
    delete.add_argument("--tenant", required=True, help="tenant of the NAS")
    delete.add_argument("--name", required=True, help="NAS name")
    common(delete, *_STORE)
    group = verbs.add_parser("group", help="set a credential's group label")
    group.add_argument("--tenant", required=True, help="tenant of the credential")
    group.add_argument("--credential", required=True, help="credential name")
    group.add_argument("--label", default=None, help="the label; omit to clear it")
    common(group, *_STORE)


def _nas_options(
    sub: argparse.ArgumentParser, common: Callable[..., None], *, creating: bool
) -> None:
    """The options `create` and `update` share; `update` leaves out what it keeps."""
    sub.add_argument("--tenant", required=True, help="tenant of the NAS")
    sub.add_argument("--name", required=True, help="NAS name")
    sub.add_argument(
        "--address",
        action="append",
        required=creating,
        default=None,
        help="source address or CIDR of the NAS (repeatable or a comma list)",
    )
    sub.add_argument(
        "--mode",
        choices=[m.value for m in NasMode],
        default=None,
        help="what a RADIUS password holds (docs/radius.md)",
    )
    sub.add_argument(
        "--message-authenticator",
        choices=[m.value for m in MaPolicy],
        default=None,
        help="RFC 3579 Message-Authenticator (default required)",
    )
    sub.add_argument(
        "--strip-realm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="drop a user@realm suffix before looking the user up",
    )
    _attribute_options(sub)
    sub.add_argument("--ldap-url", default=None, help="directory for the first factor")
    sub.add_argument("--ldap-bind-dn", default=None, help="bind DN template with {user}")
    sub.add_argument("--json", action="store_true", help="print one JSON object")
    common(sub, *_STORE)


def _attribute_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--reply-attribute",
        action="append",
        default=None,
        metavar="NAME=VALUE",
        help="attribute sent in every Access-Accept (repeatable; '' clears)",
    )
    sub.add_argument(
        "--group-attribute",
        default=None,
        help="attribute that carries the user's group label ('' clears)",
    )


def run(args: argparse.Namespace, runtime: Runtime) -> int:
    gate = gate_for(runtime)
    command = args.nas_command
    if command == "list":
        print(json.dumps([nas_json(n) for n in gate.list_nas(args.tenant)]))
        return 0
    if command == "delete":
        gate.delete_nas(args.tenant, args.name)
        return 0
    if command == "group":
        gate.set_group(args.tenant, args.credential, args.label)
        return 0
    secret = ""
    _unseal_from_stdin(runtime)
    if command == "create":
        base = NasClient(args.tenant, validate_nas_name(args.name), (), b"")
        nas, secret = gate.create_nas(_changed(base, args))
    else:
        current = gate.get_nas(args.tenant, args.name)
        nas, secret = gate.update_nas(_changed(current, args), new_secret=args.new_secret)
    _print(nas, secret, as_json=args.json)
    return 0


def _unseal_from_stdin(runtime: Runtime) -> None:
    """A NAS secret is sealed under the data key. In Shamir mode this one-shot command has no
    key until it is given the unseal shares, one a line on standard input (as `otpd unseal`
    reads them); they open the key in this process only and are not kept."""
    if not runtime.sealer.unseal_with(sys.stdin):
        raise OtpdError("sealed: give the unseal shares on standard input, one a line")


def _changed(nas: NasClient, args: argparse.Namespace) -> NasClient:
    """The NAS with the flags' changes, all checked before anything is written."""
    changes: dict[str, Any] = {}
    if args.address is not None:
        changes["networks"] = parse_networks(args.address)
    if args.mode is not None:
        changes["mode"] = NasMode(args.mode)
    if args.message_authenticator is not None:
        changes["message_authenticator"] = MaPolicy(args.message_authenticator)
    if args.strip_realm is not None:
        changes["strip_realm"] = args.strip_realm
    if args.reply_attribute is not None:
        attributes = tuple(_attribute(a) for a in args.reply_attribute if a)
        changes["reply_attributes"] = check_reply_attributes(attributes)
    if args.group_attribute is not None:
        changes["group_attribute"] = _group_attribute(args.group_attribute)
    for name in ("ldap_url", "ldap_bind_dn"):
        if getattr(args, name) is not None:
            changes[name] = getattr(args, name) or None
    nas = replace(nas, **changes)
    if nas.mode is NasMode.PASSWORD_OTP and not (nas.ldap_url and nas.ldap_bind_dn):
        raise InvalidInput("mode", "password+otp needs --ldap-url and --ldap-bind-dn")
    if nas.ldap_url and not nas.ldap_url.startswith(("ldap://", "ldaps://")):
        raise InvalidInput("ldap-url", "must start with ldap:// or ldaps://")
    if nas.ldap_bind_dn and "{user}" not in nas.ldap_bind_dn:
        raise InvalidInput("ldap-bind-dn", "must contain {user}")
    return nas


def _attribute(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    try:
        if not sep:
            raise ValueError("expected NAME=VALUE")
        check_reply_attribute(name.strip(), value)
    except ValueError as error:
        raise InvalidInput("reply-attribute", str(error)) from None
    return name.strip(), value


def _group_attribute(name: str) -> str | None:
    if not name:
        return None
    try:
        check_reply_attribute(name, "group")  # a text attribute: the label is text
    except ValueError as error:
        raise InvalidInput(
            "group-attribute", f"{name!r} must be a text attribute ({error})"
        ) from None
    return name


def nas_json(nas: NasClient) -> dict[str, Any]:
    return {
        "tenant": nas.tenant,
        "name": nas.name,
        "addresses": list(nas.networks),
        "mode": nas.mode.value,
        "message-authenticator": nas.message_authenticator.value,
        "strip-realm": nas.strip_realm,
        "reply-attributes": [f"{k}={v}" for k, v in nas.reply_attributes],
        "group-attribute": nas.group_attribute,
        "ldap-url": nas.ldap_url,
        "ldap-bind-dn": nas.ldap_bind_dn,
    }


def _print(nas: NasClient, secret: str, *, as_json: bool) -> None:
    shown = nas_json(nas) | ({"secret": secret} if secret else {})
    if as_json:
        print(json.dumps(shown))
        return
    for key, value in shown.items():
        print(f"{key}: {value}")
    if secret:
        print("(the secret is shown once; enter it on the NAS now)")
