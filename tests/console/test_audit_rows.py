"""What the console changes is in the audit trail (issues #10, #13, #16), read back with
`otpd audit --json` from a running server: a self-service link issued, its page opened, its
first codes (the wrong one and the one that activates), a dead link, and a credential disabled
and enabled again, an API client created and revoked, each naming the admin who acted."""

from __future__ import annotations

import httpx
import pyotp

from tests.support.clients import Sb
from tests.support.console import Console, csrf_of, issue_link, key_on
from tests.support.server import audit_trail, register_secret


def _rows(entries: list[dict[str, object]], target: str) -> list[tuple[object, ...]]:
    return [(e["action"], e["outcome"], e["caller"]) for e in entries if e["target"] == target]


def test_self_service_enrolment_is_in_the_trail(console: Console) -> None:
    admin = console.fresh_admin("root")
    http = console.sign_in(admin)
    link = issue_link(http, "acme", "trail-erin")
    with httpx.Client(timeout=30, headers={"Sec-Fetch-Site": "same-origin"}) as user:
        key = key_on(user.get(link).text)
        register_secret(pyotp.TOTP(key).byte_secret())
        totp = pyotp.TOTP(key)
        wrong = str((int(totp.now()) + 1) % 10**6).zfill(6)
        assert user.post(link, data={"code": wrong}).status_code == 400
        assert user.post(link, data={"code": totp.now()}).status_code == 200
        assert user.post(link, data={"code": totp.now()}).status_code == 404  # dead now
    confirmed = audit_trail(console.data_dir, "--action", "enrolment confirm", wait_for=3)
    assert ("enrolment confirm", "notfound", "-") in [
        (e["action"], e["outcome"], e["target"]) for e in confirmed
    ]
    entries = audit_trail(console.data_dir, "--tenant", "acme")
    caller = f"console:{admin}"
    assert _rows(entries, "trail-erin") == [
        ("credential.create", "ok", caller),
        ("enrolment.link", "ok", caller),
        ("enrolment.ticket", "ok", "-"),  # the ticket is the authority: no admin, no client
        ("enrolment confirm", "rejected", "-"),
        ("enrolment confirm", "accepted", "-"),
    ]


def test_disable_enable_and_clients_are_in_the_trail(console: Console) -> None:
    sb = Sb.login(console.server.url, "admin", console.key)
    assert sb.create("trail-dora").status_code in (200, 201)
    sb.close()
    admin = console.fresh_admin("alice")
    http = console.sign_in(admin)
    path = "/ui/t/acme/credentials/trail-dora"
    token = csrf_of(http.get(path).text)
    for action in ("disable", "enable"):
        assert http.post(path, data={"csrf": token, "action": action}).status_code == 200
    assert http.post(path, data={"csrf": "x" * 43, "action": "disable"}).status_code == 403
    clients = "/ui/t/acme/clients"
    for form in (
        {"name": "trail-app", "scope": "verify"},
        {"name": "trail-app", "action": "revoke"},
    ):
        assert http.post(clients, data={"csrf": token, **form}).status_code == 200
    audit_trail(console.data_dir, "--action", "client revoke", wait_for=1)
    entries = audit_trail(console.data_dir, "--tenant", "acme")
    caller = f"console:{admin}"
    assert _rows(entries, "trail-dora") == [
        ("credential.create", "ok", "admin"),
        ("credential.disable", "ok", caller),
        ("credential.enable", "ok", caller),  # the refused post (bad CSRF token) left none
    ]
    assert _rows(entries, "trail-app") == [
        ("client.create", "ok", caller),
        ("client revoke", "ok", caller),
    ]


def test_admin_create_is_in_the_trail(console: Console) -> None:
    """`otpd admin create`: the admin (in its tenant, or `-` for every tenant) and its TOTP
    credential in the tenant `system`, by the local user who ran it."""
    created = audit_trail(console.data_dir, "--action", "admin.create")
    admins = {(e["target"], e["tenant"], e["outcome"]) for e in created}
    assert {("root", "-", "ok"), ("alice", "acme", "ok")} <= admins
    assert all(str(e["caller"]).startswith("cli:") for e in created)
    system = audit_trail(console.data_dir, "--tenant", "system", "--action", "credential.create")
    assert {"console-admin.root", "console-admin.alice"} <= {e["target"] for e in system}
