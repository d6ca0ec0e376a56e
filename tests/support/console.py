"""The console's test helpers (issue #16): admins made by `otpd admin create`, a deployment
(tests/support/deployment.py) with its console admins, signing in the way a browser does with a
password and a computed TOTP code, and the Content-Security-Policy every page carries."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pyotp
from tests.support import server as harness
from tests.support.deployment import Deployment
from tests.support.server import Server, run_cli

PASSWORD = "correct horse battery staple"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass
class AdminLogin:
    name: str
    totp: pyotp.TOTP
    used: set[int] = field(default_factory=set)

    def fresh_code(self) -> str:
        """A code for a step not used yet (the core consumes each step once)."""
        while True:
            step = int(time.time()) // 30
            for candidate in (step, step + 1):
                if candidate not in self.used:
                    self.used.add(candidate)
                    return self.totp.at(candidate * 30)
            time.sleep(1)


def create_admin(data_dir: Path, name: str, *scope: str) -> AdminLogin:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # admin commands make none
    result = run_cli(
        "admin", "create", *scope, name, "--json", "--data-dir", str(data_dir), input=PASSWORD
    )
    assert result.returncode == 0, result.stderr
    uri = json.loads(result.stdout)["uri"]
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    harness.register_secret(base64.b32decode(secret + "=" * (-len(secret) % 8)))
    return AdminLogin(name, pyotp.TOTP(secret))


@dataclass
class Console:
    """A running deployment (roles admin and globex) and its console admins."""

    deployment: Deployment
    admins: dict[str, AdminLogin]

    @property
    def server(self) -> Server:
        return self.deployment.server

    @property
    def data_dir(self) -> Path:
        return self.deployment.data_dir

    @property
    def key(self) -> str:
        """The key of role admin: all scopes in tenant acme."""
        return self.deployment.keys["admin"]

    def browser(self) -> httpx.Client:
        """A client that sends what a browser sends on a same-origin form post."""
        return httpx.Client(
            base_url=self.server.url,
            timeout=30,
            headers={"Origin": self.server.url, "Sec-Fetch-Site": "same-origin"},
        )

    def fresh_admin(self, kind: str) -> str:
        """A new admin (root: every tenant, alice: tenant acme), so no test waits for a new
        time step: each sign-in consumes one, and an admin has two usable ones at a time."""
        name = f"{kind}-{len(self.admins)}"
        scope = ("--all",) if kind == "root" else ("--tenant", "acme")
        self.admins[name] = create_admin(self.data_dir, name, *scope)
        return name

    def sign_in(self, admin: str) -> httpx.Client:
        if admin in ("root", "alice"):
            admin = self.fresh_admin(admin)
        http = self.browser()
        login = self.admins[admin]
        response = http.post(
            "/ui/login",
            data={"name": admin, "password": PASSWORD, "code": login.fresh_code()},
        )
        assert response.status_code == 303, response.text
        return http


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF token in the page"
    return found[1]


def issue_link(http: httpx.Client, tenant: str, name: str) -> str:
    """A one-time enrolment link for `name`, issued on the credentials page."""
    page = http.get(f"/ui/t/{tenant}/credentials")
    response = http.post(
        f"/ui/t/{tenant}/credentials", data={"csrf": csrf_of(page.text), "name": name}
    )
    assert response.status_code == 200, response.text
    found = re.search(r'value="(http://[^"]+/ui/enrol/[^"]+)"', response.text)
    assert found
    return found[1]


def key_on(page: str) -> str:
    """The Base32 key an enrolment page shows for manual entry."""
    found = re.search(r'<code class="mono key"[^>]*>([A-Z2-7]+)</code>', page)
    assert found, page
    return found[1]
