"""Token2 HTTP rules over a real server: GET and POST, query and form body, duplicates
(docs/requirements.md#duplicate-parameters), methods (docs/requirements.md#methods), transport
failures in the requested format, the Authy leftover, logs without keys, codes or secrets, and one
credential shared with Strongbox."""

from __future__ import annotations

import httpx
import pytest

from tests.support.clients import Sb
from tests.support.deployment import Deployment as Running
from tests.support.token2 import oathtool, parse_any, register_hash


def test_form_body_is_read_after_the_query(running: Running) -> None:
    t2, key = running.t2(), running.keys["admin"]
    body = t2.createuser()
    userid, secret = body["userid"], body["hash"]
    # POST, form body only
    form = t2.http.post(
        "/validate",
        data={"api": key, "userid": str(userid), "token": oathtool(secret), "format": "1"},
    )
    assert form.json()["validation"] == "true"
    # the query string wins over the body: a bad token in the query hides the body's
    later = t2.createuser()
    mixed = t2.http.post(
        "/validate",
        params={"token": "000000", "format": "1"},
        data={"api": key, "userid": str(later["userid"]), "token": oathtool(later["hash"])},
    )
    assert mixed.json()["validation"] == "false"
    # a body of another type is not read at all
    as_json = t2.http.post("/validate", params={"format": "1"}, json={"api": key})
    assert as_json.json()["response"] == "invalid api key"
    # invalid UTF-8 in a form body is a failure body, not a 500
    broken = t2.http.post(
        "/createuser",
        params={"format": "1", "api_key": key},
        content=b"phone=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert broken.status_code == 200 and broken.json()["code"] == ["23"]


def test_duplicate_parameters_first_wins_and_api_key_beats_api(running: Running) -> None:
    t2, keys = running.t2(), running.keys
    first = t2.createuser()
    second = t2.createuser()
    code = oathtool(first["hash"])
    # userid=first&userid=second: the first one is checked
    query = f"api={keys['admin']}&userid={first['userid']}&userid={second['userid']}&format=1"
    assert t2.http.get(f"/validate?{query}&token={code}").json()["validation"] == "true"
    # api_key wins over api, whichever comes first and wherever it is
    bad_then_good = f"api={keys['admin']}&api_key={'x' * 40}&userid={second['userid']}&format=1"
    response = t2.http.get(f"/validate?{bad_then_good}&token={oathtool(second['hash'])}")
    assert response.json()["response"] == "invalid api key"
    good_in_body = t2.http.post(
        f"/validate?api={'x' * 40}&format=1",
        data={"api_key": keys["admin"], "userid": str(second["userid"]), "token": "1"},
    )
    assert good_in_body.json() == {"response": "OTP is not valid", "validation": "false"}
    # format=1&format=2: JSON
    both = t2.http.get(f"/validate?format=1&format=2&api={keys['admin']}")
    assert both.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize("path", ["/createuser", "/validate", "/api.php"])
def test_methods(running: Running, path: str) -> None:
    http = running.t2().http
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"):
        response = http.request(method, f"{path}?format=1")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET, POST"
        if method != "HEAD":
            assert response.json()["response"] == "method not allowed"
    for method in ("GET", "POST"):
        assert http.request(method, f"{path}?format=1").status_code == 200


@pytest.mark.parametrize("fmt", ["0", "1", "2", "3", "9"])
def test_transport_failures_use_the_requested_format(running: Running, fmt: str) -> None:
    """413 (body cap), 404 under a Token2 prefix and 405 answer in the call's own shape."""
    http = running.t2().http
    big = http.post(
        f"/createuser?format={fmt}",
        content=b"x" * (64 * 1024 + 1),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    parsed_fmt = "0" if fmt == "9" else fmt
    body = parse_any(big, parsed_fmt)
    if parsed_fmt == "3":
        assert body == "false"
    else:
        assert body["success"] == "false" and body["code"] == ["413"]
    missing = http.get(f"/validate/extra?format={fmt}")
    assert missing.status_code == 404
    if parsed_fmt != "3":
        assert parse_any(missing, parsed_fmt)["success"] == "false"
    wrong_method = http.delete(f"/validate?format={fmt}")
    assert wrong_method.status_code == 405
    if parsed_fmt != "3":
        assert parse_any(wrong_method, parsed_fmt) == {
            "response": "method not allowed",
            "validation": "false",
        }


def test_authy_sms_leftover(running: Running) -> None:
    """request_sms(): GET <api_url>/protected/json/sms/<id>?api_key=..&force=true expects 200."""
    http = running.t2().http
    response = http.get(f"/protected/json/sms/7?api_key={running.keys['admin']}&force=true")
    assert response.status_code == 200 and response.json() == {}
    assert http.get("/protected/json/sms/999").json() == {}


def test_logs_hold_no_key_code_or_secret(running: Running) -> None:
    """api_key, token, the secret and the ticket never reach the server's log."""
    t2 = running.t2()
    body = t2.createuser(email="logged@example.com")
    code = oathtool(body["hash"])
    t2.validate(body["userid"], code)
    httpx.get(body["hashqr"], timeout=30)
    t2.http.get("/validate", params={"api_key": running.keys["admin"], "token": "987654"})
    t2.http.get("/healthz", params={"last": "1"})
    running.server.wait_for_log("/qr/<redacted>")
    log = running.server.wait_for_log("GET /healthz 200")
    ticket = body["hashqr"].split("/qr/")[1].split(".png")[0]
    for value in (running.keys["admin"], code, "987654", body["hash"], ticket):
        assert value not in log
    assert "/qr/<redacted>" in log and "/createuser" in log


def test_strongbox_and_token2_share_credentials(running: Running) -> None:
    """One credential, two APIs: Strongbox-created validates through Token2 by its numeric id
    (found through listusers); Token2-created is visible to Strongbox GET."""
    t2 = running.t2()
    sb = Sb.login(running.server.url, "admin", running.keys["admin"])
    try:
        secret = bytes(range(1, 21))
        register_hash("AEBAGBAFAYDQQCIKBMGA2DQPCAIREEYU")
        assert sb.create("shared-alice", secret=secret, digits=8).status_code == 201
        userid = next(u["userid"] for u in t2.listusers() if u["username"] == "shared-alice")
        code = sb.code("shared-alice")
        assert len(code) == 8
        assert t2.validate(userid, code)["validation"] == "true"
        assert sb.verify("shared-alice", code).json() == {"valid": False}  # consumed once
        created = t2.createuser(email="from.token2@example.com")
        got = sb.get("/v1/config/strongbox/totp/from.token2@example.com")
        assert got.status_code == 200 and got.json()["key-size"] == 20
        assert sb.verify("from.token2@example.com", oathtool(created["hash"])).json() == {
            "valid": True
        }
    finally:
        sb.close()
