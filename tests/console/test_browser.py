"""The console in a real browser (issue #16): Playwright for Python driving Debian's chromium
(never a downloaded browser). Sign-in with a computed TOTP code, an API client's key shown once,
a credential found among 10,000, self-service enrolment through a screenshot of the QR code
decoded by zbarimg, and unsealing with shares."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support import server as harness
from tests.support.clients import Sb
from tests.support.console import PASSWORD, AdminLogin, create_admin
from tests.support.deployment import prepare
from tests.support.server import Server, run_cli

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERS = 10_000
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Screenshots stay for a person to look at when OTPD_SCREENSHOTS names a directory.
SHOTS = os.environ.get("OTPD_SCREENSHOTS")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, str]]:
    """A server whose tenant acme holds 10,000 credentials (imported: the bulk path); the key
    of role noreveal."""
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    deployment = prepare(data_dir, roles=("noreveal",))
    secret = base64.b32encode(bytes(range(20))).decode().rstrip("=")
    lines = [f"otpauth://totp/acme:user{i:05d}?secret={secret}&issuer=acme" for i in range(USERS)]
    export = data_dir.parent / "users.txt"
    export.write_text("\n".join(lines) + "\n")
    imported = run_cli(
        "import",
        "--tenant",
        "acme",
        "--format",
        "otpauth",
        str(export),
        "--data-dir",
        str(data_dir),
        timeout=300,
    )
    assert imported.returncode == 0, imported.stderr
    with deployment.start("console-browser"):
        yield deployment.server, data_dir, deployment.keys["noreveal"]


def _shot(page: Page, tmp: Path, name: str) -> Path:
    path = Path(SHOTS) / name if SHOTS else tmp / name
    page.screenshot(path=str(path), full_page=True)
    return path


def _sign_in(browser: Browser, url: str, login: AdminLogin, size: dict[str, int]) -> Page:
    page = browser.new_context(viewport=size, base_url=url).new_page()  # type: ignore[arg-type]
    page.goto("/ui/login")
    page.get_by_label("Admin name").fill(login.name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(login.fresh_code())
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    return page


def test_sign_in_and_api_client_key_shown_once(
    browser: Browser, site: tuple[Server, Path, str], tmp_path: Path
) -> None:
    server, data_dir, key = site
    sb = Sb.login(server.url, "noreveal", key)
    for _ in range(3):  # data for the overview's charts (from the audit trail)
        sb.verify("user00001", sb.code("user00001"))
        sb.verify("user00002", "000000")
    sb.close()
    page = _sign_in(browser, server.url, create_admin(data_dir, "root-a", "--all"), DESKTOP)
    expect(page.get_by_role("cell", name="acme", exact=True)).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Verifications per minute"))).to_be_visible()
    _shot(page, tmp_path, "overview-desktop.png")
    page.get_by_role("link", name="API clients of acme").click()
    page.get_by_label("Name").fill("portal")
    page.get_by_label("verify").check()
    page.get_by_role("button", name="Create client").click()
    key = page.get_by_label("Key").input_value()
    harness.register_secret(key.encode())
    assert re.fullmatch(r"[A-Za-z0-9_-]{20,}", key)
    Sb.login(server.url, "portal", key).close()  # the key shown is a working key
    page.get_by_role("link", name="Back to the API clients").click()
    expect(page.get_by_role("cell", name="portal", exact=True)).to_be_visible()
    assert key not in page.content()  # once
    page.context.close()


def test_find_a_credential_among_ten_thousand(
    browser: Browser, site: tuple[Server, Path, str], tmp_path: Path
) -> None:
    server, data_dir, _ = site
    page = _sign_in(browser, server.url, create_admin(data_dir, "root-b", "--all"), PHONE)
    page.goto("/ui/t/acme/credentials")
    expect(page.get_by_role("link", name="user00000", exact=True)).to_be_visible()
    page.get_by_label("Name starts with").fill("user0734")  # htmx updates the table as one types
    expect(page.get_by_role("link", name="user07345", exact=True)).to_be_visible()
    expect(page.get_by_role("link", name="user00000", exact=True)).to_have_count(0)
    _shot(page, tmp_path, "search-phone.png")
    page.get_by_role("link", name="user07345", exact=True).click()
    expect(page.get_by_role("heading", name="user07345 in acme")).to_be_visible()
    page.goto("/ui/t/acme/credentials?q=user09")  # paging: 50 a page, keyset on the name
    page.get_by_role("link", name="Next page").click()
    expect(page.get_by_role("link", name="user09050", exact=True)).to_be_visible()
    page.context.close()


def test_self_service_enrolment_with_the_qr_code(
    browser: Browser, site: tuple[Server, Path, str], tmp_path: Path
) -> None:
    server, data_dir, key = site
    admin = _sign_in(browser, server.url, create_admin(data_dir, "root-c", "--all"), DESKTOP)
    admin.goto("/ui/t/acme/credentials")
    admin.get_by_label("User (credential name)").fill("frank@example.com")
    admin.get_by_role("button", name="Create enrolment link").click()
    link = admin.get_by_label("Link").input_value()
    admin.context.close()

    user = browser.new_context(viewport=PHONE).new_page()
    user.goto(link)
    expect(user.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    qr = tmp_path / "qr.png"
    user.locator("#qr").screenshot(path=str(qr))
    _shot(user, tmp_path, "enrol-phone.png")
    decoded = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(qr)], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert decoded.startswith("otpauth://totp/")
    secret = parse_qs(urlparse(decoded).query)["secret"][0]
    harness.register_secret(pyotp.TOTP(secret).byte_secret())
    user.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    user.get_by_role("button", name="Confirm").click()
    expect(user.get_by_role("heading", name="All set")).to_be_visible()
    assert secret not in user.content()
    user.goto(link)  # used: nothing shown
    expect(user.get_by_role("heading", name="Not found")).to_be_visible()
    assert "otpauth" not in user.content()
    user.context.close()
    sb = Sb.login(server.url, "noreveal", key)
    credential = sb.get("/v1/state/strongbox/totp/frank@example.com").json()
    assert credential["name"] == "frank@example.com"
    sb.close()


def test_sign_in_with_the_keyboard_alone(
    browser: Browser, site: tuple[Server, Path, str], tmp_path: Path
) -> None:
    """Focus order: the name field has focus, Tab reaches password then code, Enter submits;
    then the skip link is the first stop of the next page."""
    server, data_dir, _ = site
    login = create_admin(data_dir, "root-d", "--all")
    page = browser.new_context(viewport=PHONE, base_url=server.url).new_page()  # type: ignore[arg-type]
    page.goto("/ui/login")
    # autofocus is applied after the load event: wait for it (it is what this test pins),
    # or the first key typed may land before the field has focus
    expect(page.get_by_label("Admin name")).to_be_focused()
    page.keyboard.type(login.name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    page.keyboard.type(login.fresh_code())
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    _shot(page, tmp_path, "overview-phone.png")
    page.context.close()


def test_unseal_with_shares(browser: Browser, tmp_path: Path) -> None:
    sealed = prepare(tmp_path / "data", roles=(), shares=(3, 2))
    shares = sealed.shares
    for share in shares:
        harness.register_secret(share.encode())
    with sealed.start("console-shamir"):
        server = sealed.server
        page = browser.new_context(viewport=DESKTOP, base_url=server.url).new_page()  # type: ignore[arg-type]
        page.goto("/ui/seal")
        expect(page.locator("#seal-status")).to_contain_text("sealed")
        expect(page.locator("#seal-status")).to_contain_text("0 of 2 shares")
        page.get_by_label("Unseal share").fill(shares[0])
        page.get_by_role("button", name="Give share").click()
        expect(page.locator("#seal-status")).to_contain_text("1 of 2 shares")
        page.get_by_label("Unseal share").fill(shares[2])
        page.get_by_role("button", name="Give share").click()
        expect(page.locator("#seal-status")).to_contain_text("unsealed")
        assert not any(share in page.content() for share in shares)
        with server.client() as http:
            assert http.get("/healthz").json()["status"] == "ok"
        page.context.close()
