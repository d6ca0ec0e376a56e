"""The console pages over the audit trail (issue #16 after #13), over real HTTP: the overview's
charts come from the trail, the audit page filters and pages by keyset and holds a tenant admin
to its tenant, the tenants page counts, and the seal page's reset needs the ceremony nonce."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pyotp

from tests.support.clients import Sb
from tests.support.console import CSP, Console
from tests.support.deployment import start_deployment
from tests.support.server import register_secret


def _label(html: str, title: str) -> str:
    found = re.search(r'aria-label="' + re.escape(title) + r'([^"]*)"', html)
    assert found, f"no chart {title!r}"
    return found[1]


def _eventually(check: Callable[[], bool]) -> None:
    """The trail's writer commits within a fraction of a second (group commit)."""
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, "the audit trail never showed it"
        time.sleep(0.2)


def _rows(html: str) -> list[str]:
    return re.findall(r"<tr><td>(\d+)</td>", html)


def test_overview_charts_come_from_the_trail(console: Console) -> None:
    sb = Sb.login(console.server.url, "admin", console.key)
    secret = bytes(range(1, 21))
    register_secret(secret)
    assert sb.create("chart-user", secret=secret).status_code in (200, 201)
    assert sb.create("throttle-user").status_code in (200, 201)
    code = pyotp.TOTP(base64.b32encode(secret).decode()).now()
    assert sb.verify("chart-user", code).json()["valid"] is True
    for _ in range(8):  # five free failures, then backoff: throttled
        sb.verify("throttle-user", "000000")
    sb.close()
    http = console.sign_in("root")

    def charted() -> bool:
        text = http.get("/ui/").text
        return "throttled 0" not in text and re.search(r"acme: [1-9]", text) is not None

    _eventually(charted)
    overview = http.get("/ui/")
    assert overview.headers["content-security-policy"] == CSP
    per_minute = _label(overview.text, "Verifications per minute by outcome")
    counts = dict(re.findall(r"(\w+): (\d+)", per_minute))
    assert int(counts["accepted"]) >= 1 and int(counts["rejected"]) >= 5
    assert re.search(r"acme: [1-9]", _label(overview.text, "Users throttled in the last 15"))
    drift = _label(overview.text, "Matched step offsets of accepted codes")
    assert int(re.findall(r"(?:^|, )0: (\d+)", drift.removeprefix(": "))[0]) >= 1
    assert "placeholder" not in overview.text
    assert "<rect" in overview.text
    # A tenant admin: its tenant only, and no host-wide drift chart.
    alice = console.sign_in("alice").get("/ui/").text
    assert "globex:" not in _label(alice, "Users throttled in the last 15")
    assert "Matched step offsets" not in alice


def test_audit_page_filters_pages_and_isolates(console: Console) -> None:
    sb = Sb.login(console.server.url, "admin", console.key)
    assert sb.create("ghost").status_code in (200, 201)  # unknown users are not named
    for _ in range(55):
        sb.verify("ghost", "918273")  # rejected, then throttled
    sb.close()
    other = Sb.login(console.server.url, "globex", console.deployment.keys["globex"])
    assert other.create("other-only-user").status_code in (200, 201)
    other.verify("other-only-user", "918273")
    other.close()
    root = console.sign_in("root")
    _eventually(lambda: "other-only-user" in root.get("/ui/audit").text)

    first = root.get("/ui/audit", params={"user": "ghost", "action": "verify"})
    assert first.status_code == 200
    assert first.headers["content-security-policy"] == CSP
    assert "other-only-user" not in first.text and "918273" not in first.text
    seqs = [int(s) for s in _rows(first.text)]
    assert len(seqs) == 50 and seqs == sorted(seqs, reverse=True)
    older = re.search(r'href="(/ui/audit\?[^"]+)">Older entries', first.text)
    assert older and "offset" not in older[1]
    second = root.get(older[1].replace("&amp;", "&"))
    rest = [int(s) for s in _rows(second.text)]
    assert len(rest) >= 5 and max(rest) < min(seqs)
    assert "Older entries" not in second.text
    assert root.get("/ui/audit", params={"since": "yesterday"}).status_code == 400
    future = root.get("/ui/audit", params={"since": "2999-01-01T00:00"}).text
    assert _rows(future) == []

    alice = console.sign_in("alice")
    own = alice.get("/ui/audit")
    assert own.status_code == 200 and "ghost" in own.text
    assert "other-only-user" not in own.text
    assert alice.get("/ui/audit", params={"tenant": "globex"}).status_code == 403


def test_tenants_page_counts_and_isolates(console: Console) -> None:
    root = console.sign_in("root").get("/ui/tenants")
    assert root.status_code == 200
    assert root.headers["content-security-policy"] == CSP
    acme = re.search(r"<tr><td>acme</td><td>(\d+)</td><td>(\d+)</td>", root.text)
    assert acme and int(acme[2]) >= 1
    assert "<tr><td>globex</td>" in root.text
    assert "<tr><td>system</td>" not in root.text
    alice = console.sign_in("alice").get("/ui/tenants").text
    assert "<tr><td>acme</td>" in alice and "<tr><td>globex</td>" not in alice


def test_seal_page_resets_progress_only_with_the_nonce(tmp_path: Path) -> None:
    sealed = start_deployment(tmp_path / "data", "console-reset", roles=(), shares=(3, 2))
    with sealed:
        server, shares = sealed.server, sealed.shares
        headers = {"Origin": server.url, "Sec-Fetch-Site": "same-origin"}
        with httpx.Client(base_url=server.url, timeout=30, headers=headers) as http:
            given = http.post("/ui/seal", data={"share": shares[0]})
            assert given.status_code == 200 and "1 of 2 shares" in given.text
            nonce = re.search(r'name="nonce"[^>]*value="([0-9a-f]{32})"', given.text)
            assert nonce, given.text
            status = http.get("/ui/seal")
            assert status.headers["content-security-policy"] == CSP
            assert nonce[1] not in status.text and "Reset unseal progress" in status.text
            wrong = http.post("/ui/seal", data={"action": "reset", "nonce": "0" * 32})
            assert wrong.status_code == 400
            assert "1 of 2 shares" in http.get("/ui/seal").text
            reset = http.post("/ui/seal", data={"action": "reset", "nonce": nonce[1]})
            assert reset.status_code == 200 and "0 of 2 shares" in reset.text
            assert shares[0] not in reset.text
