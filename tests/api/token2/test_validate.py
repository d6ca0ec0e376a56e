"""/validate over real HTTP: the WSO2 connector's and the WordPress plugin's calls, oathtool
codes accepted once, one byte-identical failure answer (docs/requirements.md#no-oracle), codes and
user ids of every malformed kind, tenants and scopes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.clients import T2
from tests.support.deployment import Deployment as Running
from tests.support.token2 import oathtool, parse_any

INVALID = {"response": "OTP is not valid", "validation": "false"}


def _user(t2: T2, **params: Any) -> tuple[int, str]:
    body = t2.createuser(**params)
    return body["userid"], body["hash"]


def test_wso2_connector_validate(running: Running) -> None:
    """Token2Authenticator.validateToken(): GET .../validate?api=<key>&token=<otp>&userid=<id>
    &format=1, values not URL-encoded, any non-2xx throws, then
    String.valueOf(json.get("validation")).equals("true")."""
    userid, secret = _user(running.t2())
    key = running.keys["verifier"]

    def call(token: str) -> httpx.Response:
        url = f"{running.server.url}/validate?api={key}&token={token}&userid={userid}&format=1"
        return httpx.get(url, timeout=30)

    wrong = call("000000" if oathtool(secret) != "000000" else "111111")
    assert wrong.status_code == 200 and wrong.json()["validation"] == "false"
    code = oathtool(secret)
    good = call(code)
    assert good.status_code == 200
    assert good.headers["content-type"] == "application/json; charset=utf-8"
    assert good.json() == {"response": "OTP is valid", "userid": str(userid), "validation": "true"}
    again = call(code)
    assert again.status_code == 200 and again.json() == INVALID


def test_wordpress_plugin_login_calls(running: Running) -> None:
    """token2.php login_with_2FA(): validate?send=0&format=1&api=..&userid=..&token=.. and
    $body["validation"]=="true"; helpers.php first calls validate?send=1 without a token and
    shows $body["response"]. Neither the trigger nor its repetition costs the user anything."""
    userid, secret = _user(running.t2())
    http, key = running.t2().http, running.keys["admin"]
    for _ in range(8):  # more than the 5 free failures: none of these may count
        trigger = http.get(f"/validate?send=1&format=1&api={key}&userid={userid}")
        assert trigger.status_code == 200
        assert trigger.json() == {
            "response": "Enter the code shown by your authenticator app",
            "userid": str(userid),
            "validation": "false",
        }
    code = oathtool(secret)
    login = http.get(f"/validate?send=0&format=1&api={key}&userid={userid}&token={code}")
    assert login.json()["validation"] == "true"


@pytest.mark.parametrize("fmt", ["0", "1", "2", "3"])
def test_oathtool_codes_validate_once_in_every_format(running: Running, fmt: str) -> None:
    userid, secret = _user(running.t2())
    params = {"api_key": running.keys["admin"], "userid": userid, "token": oathtool(secret)}
    http = running.t2().http
    first = http.get("/validate", params={**params, "format": fmt})
    second = http.get("/validate", params={**params, "format": fmt})
    assert first.status_code == second.status_code == 200
    accepted, refused = parse_any(first, fmt), parse_any(second, fmt)
    if fmt == "3":
        assert (accepted, refused) == ("true", "false")
    else:
        assert accepted == {"response": "OTP is valid", "userid": str(userid), "validation": "true"}
        assert refused == INVALID


def _comparable(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted(
        (name, value)
        for name, value in response.headers.items()
        if name not in ("date", "x-request-id")
    )
    return response.status_code, headers, response.content


@pytest.mark.parametrize("fmt", ["0", "1", "2", "3"])
def test_one_failure_answer_byte_for_byte(running: Running, fmt: str) -> None:
    """docs/requirements.md#no-oracle: wrong code, replayed code, throttled user, unknown
    user, another tenant's user, malformed user ids: one answer, identical but for Date and the
    request id."""
    t2, key = running.t2(), running.keys["admin"]
    wrong_id, wrong_secret = _user(t2)
    replay_id, replay_secret = _user(t2)
    throttled_id, throttled_secret = _user(t2)
    foreign_id, _ = _user(t2, key=running.keys["globex"])
    code = oathtool(replay_secret)
    assert t2.validate(replay_id, code)["validation"] == "true"
    for _ in range(6):  # 5 free failures, then a delay: the next attempt is throttled
        t2.validate(throttled_id, "000000" if oathtool(throttled_secret) != "000000" else "111111")

    def ask(userid: object, token: str) -> httpx.Response:
        params = {"api_key": key, "userid": userid, "token": token, "format": fmt}
        return t2.http.get("/validate", params=params)

    wrong_code = "123456" if oathtool(wrong_secret) != "123456" else "654321"
    answers = {
        "wrong": ask(wrong_id, wrong_code),
        "replayed": ask(replay_id, code),
        "throttled": ask(throttled_id, oathtool(throttled_secret)),  # right code, throttled
        "unknown": ask(10**9, "123456"),
        "other tenant": ask(foreign_id, "123456"),
        "zero": ask(0, "123456"),
        "not a number": ask("abc", "123456"),
        "padded": ask(f"0{wrong_id}", "123456"),
        "too big": ask("9" * 30, "123456"),
        "wildcard": ask("*", "123456"),
        "missing": t2.http.get("/validate", params={"api_key": key, "token": "1", "format": fmt}),
    }
    reference = _comparable(answers["wrong"])
    assert reference[0] == 200
    for name, response in answers.items():
        assert _comparable(response) == reference, name
    if fmt != "3":
        assert parse_any(answers["wrong"], fmt) == INVALID
    # the audit log knows the true reasons (docs/requirements.md#audit)
    log = running.server.log()
    for outcome in ("rejected", "replayed", "throttled"):
        assert f"outcome={outcome}" in log


@pytest.mark.parametrize(
    "token",
    [
        "12345",
        "1234567",
        " 287082",
        "287082 ",
        "287 082",
        "287082\n",
        "+287082",
        "-287082",
        "287_082",
        "2.8e5",
        "\uff12\uff18\uff17\uff10\uff18\uff12",  # full-width digits
        "\u0662\u0668\u0667\u0660\u0668\u0662",  # Arabic-Indic digits
        "287082\x00",
        "1" * 4_000,  # longer URLs are 414 (max_url_bytes): tests/web/test_limits.py
        "null",
        "[]",
        "{}",
        "true",
    ],
)
def test_malformed_codes_are_never_accepted(running: Running, token: str) -> None:
    """(with a code equal to the current one where the shape allows): a wrong code."""
    userid, _ = _user(running.t2())
    body = running.t2().validate(userid, token)
    assert body == INVALID


def test_no_token_and_empty_userids_change_no_counter(running: Running) -> None:
    """no token, send=1, userid empty/blank/wildcard: no failure is counted anywhere, so
    the right code afterwards still works."""
    userid, secret = _user(running.t2())
    http, key = running.t2().http, running.keys["admin"]
    for _ in range(7):
        for params in (
            {"userid": userid},
            {"userid": userid, "token": ""},
            {"userid": userid, "token": "000000", "send": "1"},
        ):
            body = http.get("/validate", params={"api": key, "format": "1", **params}).json()
            assert body["validation"] == "false" and body["userid"] == str(userid)
        for weird in ("", " ", "*", "%"):
            no_token = http.get("/validate", params={"api": key, "format": "1", "userid": weird})
            assert no_token.json()["userid"] == ""  # only a canonical id is echoed
    assert running.t2().validate(userid, oathtool(secret))["validation"] == "true"


def test_key_and_scope(running: Running) -> None:
    userid, secret = _user(running.t2())
    http, keys = running.t2().http, running.keys
    for params in ({}, {"api": ""}, {"api": "A" * 40}, {"API_KEY": keys["admin"]}):
        body = http.get(
            "/validate", params={"userid": userid, "token": "1", "format": "1", **params}
        )
        assert body.status_code == 200
        assert body.json() == {"response": "invalid api key", "validation": "false"}
    for key in (keys["reader"], keys["writer"]):
        body = running.t2().validate(userid, oathtool(secret), key=key)
        assert body == {
            "response": "api key not allowed: missing scope verify",
            "validation": "false",
        }
    # neither of those consumed the code
    assert (
        running.t2().validate(userid, oathtool(secret), key=keys["verifier"])["validation"]
        == "true"
    )


def test_another_tenants_user_cannot_be_validated(running: Running) -> None:
    """globex's key with acme's userids (enumerated) answers like an unknown user, and
    acme's right code still works afterwards."""
    userid, secret = _user(running.t2())
    for candidate in range(1, userid + 2):
        body = running.t2().validate(candidate, oathtool(secret), key=running.keys["globex"])
        assert body == INVALID
    assert running.t2().validate(userid, oathtool(secret))["validation"] == "true"
