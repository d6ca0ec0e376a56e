"""The real avassa-client package (PyPI `avassa-client`) against otpd, unchanged.

It speaks https in production; pointed at the test server's http:// URL, urllib ignores its
SSL context, so every call below is the client's own code path (docs/api-strongbox.md).
"""

from __future__ import annotations

import json
import urllib.error

import avassa_client as avassa
import pytest

from tests.support.deployment import Deployment as Env
from tests.support.strongbox import CONFIG, STATE, b32, secret, unb32


@pytest.fixture(scope="module")
def session(env: Env) -> avassa.Session:
    return avassa.login(env.url, "admin", env.keys["admin"], tenant="acme")


def test_login_and_refresh(env: Env, session: avassa.Session) -> None:
    assert session.get_token_expiry() is not None
    before = session.get_token_last_renewal()
    session.refresh_token()  # POST with no body and no Content-Type; checks code == 200
    assert session.get_token_last_renewal() >= before
    assert session.get_token_recommended_refresh() is not None
    without_tenant = avassa.login(env.url, "admin", env.keys["admin"])
    assert without_tenant.get_token()


def test_login_failure_message(env: Env) -> None:
    with pytest.raises(avassa.LoginError) as failure:
        avassa.login(env.url, "admin", "x" * 40)
    assert failure.value.message == "Exception during login: authentication required"
    with pytest.raises(avassa.LoginError):
        avassa.login(env.url, "admin", env.keys["admin"], tenant="globex")


def test_crud_and_operations(session: avassa.Session) -> None:
    raw = secret()
    payload = {
        "name": "av",
        "issuer": "telco.com",
        "account-name": "a@telco.com",
        "passcode32": b32(raw),
    }
    code, msg, headers, text = avassa.post_request(session, CONFIG.lstrip("/"), payload)
    assert (code, msg, text) == (201, "Created", "")
    assert dict(headers)["location"] == f"{CONFIG}/av"

    code, msg, _, text = avassa.get_request(session, f"{CONFIG}/av")
    assert (code, msg) == (200, "OK")
    assert json.loads(text)["passcode32"] == b32(raw)

    replace = {"name": "av", "digits": 8, "passcode32": b32(raw)}
    assert avassa.put_request(session, f"{CONFIG}/av", replace)[:2] == (204, "No Content")

    # patch_request sends RFC 6902 JSON Patch unless told otherwise
    ops = [{"op": "replace", "path": "/skew", "value": 2}]
    assert avassa.patch_request(session, f"{CONFIG}/av", ops)[:2] == (204, "No Content")
    merge = {"Content-Type": "application/json"}
    assert avassa.patch_request(session, f"{CONFIG}/av", {"issuer": "x"}, headers=merge)[0] == 204
    got = json.loads(avassa.get_request(session, f"{STATE}/av")[3])
    assert (got["digits"], got["skew"], got["issuer"]) == (8, 2, "x")
    assert unb32(got["passcode32"]) == raw

    code, msg, _, text = avassa.post_request(session, f"{STATE}/av/get-code", None)
    assert (code, msg) == (200, "OK")
    one_time = json.loads(text)["code"]
    verified = avassa.post_request(session, f"{STATE}/av/verify-code", {"code": one_time})
    assert json.loads(verified[3]) == {"valid": True}
    qr = json.loads(avassa.post_request(session, f"{STATE}/av/get-qr-code", None)[3])
    assert qr["url"] == got["url"]

    # the client has no delete helper; this is the function its helpers all call
    assert avassa._send_request("DELETE", session, f"{CONFIG}/av", None, None, None, None)[0] == 204


def test_errors_reach_the_client(session: avassa.Session) -> None:
    with pytest.raises(urllib.error.HTTPError) as missing:
        avassa.get_request(session, f"{CONFIG}/nosuch")
    assert missing.value.code == 404
    assert avassa.get_error(missing.value) == "not found: no such credential"
    with pytest.raises(urllib.error.HTTPError) as bad:
        avassa.post_request(session, CONFIG, {"name": "bad", "digits": 5})
    assert bad.value.code == 400
    assert avassa.get_error(bad.value).startswith("invalid request: digits")


def test_yaml_accept_is_honoured_for_the_client_headers(session: avassa.Session) -> None:
    text = avassa.get_request(session, CONFIG, headers={"Accept": "application/yaml"})[3]
    assert text.startswith("[]") or text.startswith("- ")
