"""/createuser over real HTTP: the WordPress plugin's exact call and checks, every format, the
hashqr image decoded by zbarimg, and bad input in every parameter (issue #5)."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from otpd.core.provisioning import parse_uri
from tests.support.clients import T2, Sb
from tests.support.deployment import Deployment as Running
from tests.support.token2 import (
    as_strings,
    oathtool,
    parse_any,
    register_hash,
    wordpress_secret,
    zbarimg,
)


def _wordpress_createuser(running: Running, email: str, phone: str) -> httpx.Response:
    """token2-api.php register_user(): add_query_arg() on <api_url>/createuser with api_key,
    rawurlencoded email, phone without "+", type as int, format "1", pin; wp_remote_post()
    with no body."""
    query = (
        f"api_key={running.keys['admin']}&email={email.replace('@', '%40')}&phone={phone}"
        "&type=0&format=1&pin=0"
    )
    return running.t2().http.post(f"/createuser?{query}", content=b"")


def test_wordpress_plugin_createuser(running: Running, tmp_path: Path) -> None:
    response = _wordpress_createuser(running, "wp.user@example.com", "41791234567")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    register_hash(body["hash"])
    # token2.php: $response->success == 'true', is_numeric(userid), then hashqr and hash
    assert body["success"] == "true"
    assert isinstance(body["userid"], int) and body["userid"] >= 1
    assert set(body) == {"response", "userid", "success", "hash", "hashqr"}
    assert body["response"] == "user created"
    assert re.fullmatch(r"[A-Z2-7]{32}", body["hash"])  # 20 bytes, no padding
    # helpers.php "Can't scan?": url.split("?secret")[1].replace(/\W/g, '') is the secret
    assert body["hashqr"].count("?secret") == 1
    assert wordpress_secret(body["hashqr"]) == body["hash"]
    assert body["hashqr"].startswith(running.server.url + "/qr/")
    # the <img src=hashqr> works without any key and shows the secret's otpauth URI
    image = httpx.get(body["hashqr"], timeout=30)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    uri = parse_uri(zbarimg(image.content, tmp_path))
    assert (
        uri.secret.reveal() == parse_uri(f"otpauth://totp/x?secret={body['hash']}").secret.reveal()
    )
    assert uri.account_name == "wp.user@example.com" and uri.issuer == "acme"
    assert (uri.params.algorithm.value, uri.params.digits, uri.params.period) == ("sha1", 6, 30)
    # and the code an app makes from it validates, once
    code = oathtool(body["hash"])
    assert running.t2().validate(body["userid"], code)["validation"] == "true"
    assert running.t2().validate(body["userid"], code)["validation"] == "false"


def test_the_ticket_is_the_only_way_to_the_image(running: Running) -> None:
    body = running.t2().createuser()
    ticket = body["hashqr"].split("/qr/")[1].split(".png")[0]
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", ticket)  # 256 random bits
    http = running.t2().http
    assert http.get(f"/qr/{ticket}.png").status_code == 200  # ?secret is not needed either
    assert http.head(f"/qr/{ticket}.png").status_code == 200
    other = ticket[:-1] + ("A" if ticket[-1] != "A" else "B")
    for path in (
        f"/qr/{other}.png",
        f"/qr/{ticket}.PNG",
        f"/qr/{ticket.lower()}.png",
        f"/qr/{body['userid']}.png",
        "/qr/.png",
        "/qr/%00.png",
        f"/qr/{ticket}x.png",
        f"/qr/{'A' * 5000}.png",
        "/qr/../createuser.png",
    ):
        response = http.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] != "image/png"
        assert body["hash"] not in response.text
    assert http.post(f"/qr/{ticket}.png").status_code == 405


@pytest.mark.parametrize("fmt", ["0", "1", "2", "3"])
def test_every_format_of_success_and_failure(running: Running, fmt: str) -> None:
    http, key = running.t2().http, running.keys["admin"]
    ok = http.post(
        "/createuser", params={"api_key": key, "phone": "+41 79 123 45 67", "format": fmt}
    )
    bad = http.post("/createuser", params={"api_key": key, "phone": "12", "format": fmt})
    for response in (ok, bad):
        assert response.status_code == 200
    if fmt == "3":
        assert (ok.text, bad.text) == ("true", "false")
        return
    created, failed = parse_any(ok, fmt), parse_any(bad, fmt)
    register_hash(created["hash"])
    assert as_strings(failed) == {
        "response": "Phone number is not valid",
        "success": "false",
        "error": "Phone number is not valid",
        "code": ["23"],
    }
    assert created["success"] == "true" and created["response"] == "user created"
    assert str(created["userid"]).isdigit()
    assert wordpress_secret(created["hashqr"]) == created["hash"]
    if fmt == "0":
        assert isinstance(created["userid"], int)  # serialized as i:N;
        assert ok.content.startswith(b'a:5:{s:8:"response";s:12:"user created";s:6:"userid";i:')


def test_unknown_format_is_serialized(running: Running) -> None:
    for fmt in ("4", "json", "01", " 1", "-1", ""):
        response = running.t2().http.get("/createuser", params={"phone": "1", "format": fmt})
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert php_body(response)["success"] == "false"


def php_body(response: httpx.Response) -> dict[str, Any]:
    parsed: dict[str, Any] = parse_any(response, "0")
    return parsed


@pytest.mark.parametrize(
    "phone",
    [
        "41791234567",  # the WordPress plugin strips "+"
        "+41791234567",  # E.164 as the vendor documents it
        "+1 (555) 010-9999",
        "123456",
        "123456789012345",
    ],
)
def test_valid_phones(t2: T2, phone: str) -> None:
    assert t2.createuser(phone=phone)["success"] == "true"


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"phone": None}, ["23"]),  # phone is required (docs/api-token2.md)
        ({"phone": ""}, ["23"]),
        ({"phone": "12345"}, ["23"]),
        ({"phone": "1234567890123456"}, ["23"]),
        ({"phone": "++41791234567"}, ["23"]),
        ({"phone": "4179123456a"}, ["23"]),
        ({"phone": "٤١٧٩١٢٣٤٥٦٧"}, ["23"]),  # Arabic-Indic digits are not ASCII digits
        ({"phone": "41791234567\n"}, ["23"]),
        ({"phone": "' OR '1'='1"}, ["23"]),
        ({"pin": "abcd"}, ["22"]),
        ({"pin": "1" * 17}, ["22"]),
        ({"pin": "12 34"}, ["22"]),
        ({"type": "1"}, ["24"]),  # SMS users: TOTPRadius has "no other options"
        ({"type": "2"}, ["24"]),
        ({"type": "00"}, ["24"]),
        ({"email": "not-an-address"}, ["21"]),
        ({"email": "a b@example.com"}, ["21"]),
        ({"email": "x" * 250 + "@example.com"}, ["21"]),
        ({"email": "a@b\x00c"}, ["21"]),
        ({"phone": "1", "pin": "x", "type": "9", "email": "@"}, ["21", "22", "23", "24"]),
    ],
)
def test_bad_parameters_are_a_failure_body_with_codes(
    running: Running, params: dict[str, str | None], codes: list[str]
) -> None:
    given = {"api_key": running.keys["admin"], "format": "1", "phone": "41791234567", **params}
    query = {name: value for name, value in given.items() if value is not None}
    before = len(running.t2().listusers())
    response = running.t2().http.post("/createuser", params=query)
    assert response.status_code == 200
    body = response.json()
    assert body["success"] == "false" and body["code"] == codes
    assert set(body) == {"response", "success", "error", "code"}
    assert body["response"] == body["error"] and body["error"]
    assert len(running.t2().listusers()) == before  # nothing was created


@pytest.mark.parametrize("pin", ["", "0", "1234", "+1234", "1" * 16])
def test_pins_and_types_accepted(running: Running, pin: str) -> None:
    running.t2().createuser(pin=pin, type="0")
    running.t2().createuser(pin=pin, type="")


def test_key_and_scope_failures(running: Running) -> None:
    http, keys = running.t2().http, running.keys
    for params in ({}, {"api_key": ""}, {"api_key": "x" * 40}, {"api": keys["admin"] + "x"}):
        response = http.post(
            "/createuser", params={"phone": "41791234567", "format": "1", **params}
        )
        assert response.status_code == 200
        assert response.json() == {
            "response": "invalid api key",
            "success": "false",
            "error": "invalid api key",
            "code": ["10"],
        }
    for key in (keys["verifier"], keys["reader"]):
        body = http.post("/createuser", params={"api_key": key, "phone": "1", "format": "1"}).json()
        # the scope is checked before the parameters: this phone is not even looked at
        assert body["success"] == "false" and body["code"] == ["11"]
        assert body["response"] == "api key not allowed: missing scope write"
    created = running.t2().createuser(key=keys["writer"])
    assert created["success"] == "true"


def test_names_follow_the_email(running: Running) -> None:
    t2 = running.t2()
    first = t2.createuser(email="carol@example.com")
    second = t2.createuser(email="carol@example.com")  # taken: the second is user<id>
    odd = t2.createuser(email="élodie@example.com")  # a fine address, not a credential name
    anonymous = t2.createuser()
    names = {u["userid"]: u["username"] for u in t2.listusers()}
    assert names[str(first["userid"])] == "carol@example.com"
    assert names[str(second["userid"])] == f"user{second['userid']}"
    assert names[str(odd["userid"])] == f"user{odd['userid']}"
    assert names[str(anonymous["userid"])] == f"user{anonymous['userid']}"
    # another tenant may use the same e-mail as its name
    other = t2.createuser(key=running.keys["globex"], email="carol@example.com")
    other_names = {u["userid"]: u["username"] for u in t2.listusers(key=running.keys["globex"])}
    assert other_names == {str(other["userid"]): "carol@example.com"}


def test_a_strongbox_name_user_id_is_skipped(running: Running) -> None:
    """If a Strongbox client already named a credential user<next id>, createuser picks
    user<id>-2 rather than failing."""
    sb = Sb.login(running.server.url, "admin", running.keys["admin"])
    try:
        probe = running.t2().createuser()
        taken = f"user{probe['userid'] + 2}"  # the id after the Strongbox one below
        assert sb.create(taken).status_code == 201
        body = running.t2().createuser()
        names = {u["userid"]: u["username"] for u in running.t2().listusers()}
        assert names[str(body["userid"])] in (f"user{body['userid']}", f"{taken}-2")
        assert len(set(names.values())) == len(names)
    finally:
        sb.close()


def test_form_body_and_get(running: Running) -> None:
    http, key = running.t2().http, running.keys["admin"]
    form = http.post(
        "/createuser", data={"api_key": key, "phone": "41791234567", "format": "1"}
    ).json()
    got = http.get("/createuser", params={"api": key, "phone": "41791234567", "format": "1"}).json()
    for body in (form, got):
        register_hash(body["hash"])
        assert body["success"] == "true"
    assert got["userid"] > form["userid"]


@pytest.mark.parametrize(
    "hostile",
    [
        "' OR '1'='1",
        "'; DROP TABLE credential;--",
        "%",
        "_",
        "\\",
        '" OR ""="',
        "$(id)",
        "{{7*7}}",
        "${jndi:ldap://x}",
        "../../etc/passwd",
        "%2e%2e%2f",
        "<b>&amp;]]>",
        "\x00",
    ],
)
def test_injection_strings_are_refused_in_every_format(running: Running, hostile: str) -> None:
    """Hostile text in each parameter is refused or stored literally, and the
    failure bodies stay well-formed in every format."""
    http, key = running.t2().http, running.keys["admin"]
    for fmt in ("0", "1", "2", "3"):
        for name in ("phone", "email", "pin", "type"):
            params = {"api_key": key, "phone": "41791234567", "format": fmt, name: hostile}
            response = http.post("/createuser", params=params)
            assert response.status_code == 200
            body = parse_any(response, fmt)
            if fmt == "3":
                assert body == "false", (name, hostile)
            else:
                assert body["success"] == "false", (name, hostile)
    assert all(u["username"] != hostile for u in running.t2().listusers())


def test_concurrent_createusers_with_one_email(running: Running) -> None:
    """The name is settled by the insert: of 8 parallel calls one gets the e-mail, the others
    user<id>, and every call succeeds."""
    url, key = running.server.url, running.keys["admin"]

    def create(_: int) -> dict[str, Any]:
        params = {
            "api_key": key,
            "phone": "41791234567",
            "email": "race@example.com",
            "format": "1",
        }
        body: dict[str, Any] = httpx.post(f"{url}/createuser", params=params, timeout=30).json()
        register_hash(body["hash"])
        return body

    with ThreadPoolExecutor(max_workers=8) as pool:
        bodies = list(pool.map(create, range(8)))
    assert all(b["success"] == "true" for b in bodies)
    names = {u["userid"]: u["username"] for u in running.t2().listusers()}
    mine = [names[str(b["userid"])] for b in bodies]
    assert mine.count("race@example.com") == 1
    assert sorted(n for n in mine if n != "race@example.com") == sorted(
        f"user{b['userid']}" for b in bodies if names[str(b["userid"])] != "race@example.com"
    )
