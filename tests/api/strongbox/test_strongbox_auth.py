"""Login, token refresh and every authorisation path: 401 (missing, wrong, expired bearer),
403 (scope), 404 for another tenant's TOTP (docs/requirements.md#tenancy)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.support.deployment import ROLES
from tests.support.deployment import Deployment as Env
from tests.support.strongbox import CONFIG, STATE, assert_status, body, get, message

TIME_Z = "Z"


def _login(env: Env, payload: Any, **kwargs: Any) -> httpx.Response:
    with env.server.client() as http:
        return http.post("/v1/login", json=payload, **kwargs)


def test_login_200_ok_with_token_body(env: Env) -> None:
    response = _login(env, {"username": "admin", "password": env.keys["admin"]})
    assert_status(response, 200)
    token = response.json()
    assert set(token) == {
        "token",
        "expires-in",
        "expires",
        "accessor",
        "creation-time",
        "renewal-time",
    }
    assert 3590 <= token["expires-in"] <= 3600
    assert token["expires"].endswith(TIME_Z) and token["creation-time"] == token["renewal-time"]
    with_tenant = _login(
        env, {"username": "admin", "password": env.keys["admin"], "tenant": "acme"}
    )
    assert_status(with_tenant, 200)
    as_yaml = _login(
        env,
        {"username": "admin", "password": env.keys["admin"]},
        headers={"Accept": "application/yaml"},
    )
    assert as_yaml.headers["content-type"] == "application/yaml" and "token: " in as_yaml.text


def test_login_failures_are_one_401(env: Env) -> None:
    key = env.keys["admin"]
    failures = [
        {"username": "admin", "password": key[:-1] + ("a" if key[-1] != "a" else "b")},
        {"username": "reader", "password": key},
        {"username": "admin", "password": key, "tenant": "globex"},
        {"username": "admin", "password": key, "tenant": "nosuch"},
        {"username": "admin"},
        {"password": key},
        {"username": 1, "password": key},
        {},
    ]
    responses = [_login(env, payload) for payload in failures]
    for response in responses:
        assert_status(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert len({r.text for r in responses}) == 1, "one answer whatever was wrong"
    assert_status(_login(env, ["admin", key]), 400)


def test_refresh_resets_ttl_without_a_body(env: Env) -> None:
    sb = env.sb()
    with env.server.client() as http:
        first = http.post("/v1/state/strongbox/token/refresh", headers=sb.auth)
        assert_status(first, 200)
        assert first.json()["token"] == sb.token
        assert first.json()["renewal-time"] >= first.json()["creation-time"]
        yaml_body = {"Content-Type": "application/yaml", **sb.auth}
        short = http.post(
            "/v1/state/strongbox/token/refresh", content="increment: 10m\n", headers=yaml_body
        )
        assert_status(short, 200)
        assert 590 <= short.json()["expires-in"] <= 600
        for bad in ("[1]", "increment: 5x", "null"):
            response = http.post(
                "/v1/state/strongbox/token/refresh", content=bad, headers=yaml_body
            )
            assert_status(response, 400)
        assert_status(http.post("/v1/state/strongbox/token/refresh"), 401)
        # the token before the body: a bad body with a wrong token is still 401
        wrong = {"Content-Type": "application/yaml", "Authorization": "Bearer not-a-token"}
        bad_body = http.post("/v1/state/strongbox/token/refresh", content="[1]", headers=wrong)
        assert_status(bad_body, 401)


def test_expired_token_is_401(env: Env) -> None:
    """A refresh with increment 1s makes the token expire a second later (no long waits)."""
    login = _login(env, {"username": "admin", "password": env.keys["admin"]}).json()
    auth = {"Authorization": f"Bearer {login['token']}"}
    with env.server.client() as http:
        refreshed = http.post(
            "/v1/state/strongbox/token/refresh", json={"increment": "1s"}, headers=auth
        )
        assert refreshed.json()["expires-in"] <= 1
        assert_status(http.get(CONFIG, headers=auth), 200)
        time.sleep(1.1)
        assert_status(http.get(CONFIG, headers=auth), 401)
        assert_status(http.post("/v1/state/strongbox/token/refresh", headers=auth), 401)


def test_token_is_stored_hashed(env: Env) -> None:
    token = env.sb().token
    stored = b"".join(path.read_bytes() for path in env.server.data_dir.glob("otpd.sqlite3*"))
    assert stored and token.encode() not in stored


BAD_AUTH = [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer null"},
    {"Authorization": "Bearer undefined"},
    {"Authorization": "Bearer 00000000-0000-0000-0000-000000000000"},
    {"Authorization": "Basic Og=="},
    {"Authorization": "Token abc"},
    {"Authorization": "Bearer " + "x" * 8000},
]


@pytest.mark.parametrize("headers", BAD_AUTH, ids=lambda h: str(h)[:40])
def test_missing_or_wrong_bearer_is_401(env: Env, headers: dict[str, str]) -> None:
    with env.server.client() as http:
        for method, path in [
            ("GET", CONFIG),
            ("POST", f"{STATE}/x/get-code"),
            ("DELETE", f"{CONFIG}/x"),
        ]:
            response = http.request(method, path, headers=headers)
            assert_status(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"


def test_api_key_and_duplicate_headers_are_not_bearers(env: Env) -> None:
    token = env.sb().token
    with env.server.client() as http:
        as_key = http.get(CONFIG, headers={"Authorization": f"Bearer {env.keys['admin']}"})
        assert_status(as_key, 401)
        twice = httpx.Headers(
            [("Authorization", f"Bearer {token}"), ("Authorization", "Bearer junk")]
        )
        assert_status(http.get(CONFIG, headers=twice), 401)


def _operations(name: str) -> list[tuple[str, str, str, Any, str]]:
    """(label, method, path, json body, scope it needs); writes use validate=true."""
    return [
        ("list config", "GET", CONFIG, None, "read"),
        ("list state", "GET", STATE, None, "read"),
        ("get config", "GET", f"{CONFIG}/{name}", None, "read"),
        ("get state", "GET", f"{STATE}/{name}", None, "read"),
        ("create", "POST", f"{CONFIG}?validate=true", body(name + "-new"), "write"),
        ("put", "PUT", f"{CONFIG}/{name}?validate=true", {"digits": 8}, "write"),
        ("patch", "PATCH", f"{CONFIG}/{name}?validate=true", {"digits": 8}, "write"),
        ("delete", "DELETE", f"{CONFIG}/{name}?validate=true", None, "write"),
        ("get-code", "POST", f"{STATE}/{name}/get-code", None, "code"),
        ("get-qr-code", "POST", f"{STATE}/{name}/get-qr-code", None, "reveal"),
        ("verify-code", "POST", f"{STATE}/{name}/verify-code", {"code": "000000"}, "verify"),
    ]


def test_capability_matrix(env: Env) -> None:
    """exactly the documented operations succeed for each scope."""
    admin = env.sb()
    assert_status(admin.http.post(CONFIG, json=body("cap"), headers=admin.auth), 201)
    for role, (tenant, scopes) in ROLES.items():
        if tenant != "acme":
            continue
        sb = env.sb(role)
        for label, method, path, payload, scope in _operations("cap"):
            response = sb.http.request(method, path, json=payload, headers=sb.auth)
            if scope in scopes:
                assert response.status_code < 300, (role, label, response.text)
            else:
                assert_status(response, 403)
                assert message(response) == f"forbidden: missing scope {scope}", (role, label)


def test_scope_is_checked_before_the_body(env: Env) -> None:
    reader = env.sb("reader")
    response = reader.http.post(CONFIG, content=b"{not json", headers=reader.auth)
    assert_status(response, 403)


def test_reveal_gates_passcode32_and_url(env: Env) -> None:
    """without scope reveal no read path shows the secret in any form."""
    admin = env.sb()
    assert_status(admin.http.post(CONFIG, json=body("hidden"), headers=admin.auth), 201)
    passcode = admin.get(f"{CONFIG}/hidden").json()["passcode32"]
    sb = env.sb("noreveal")
    paths = [CONFIG, f"{CONFIG}/hidden", STATE, f"{STATE}/hidden"]
    variants: list[dict[str, str]] = [
        {},
        {"content": "config"},
        {"content": "nonconfig"},
        {"fields": "passcode32;url"},
    ]
    for path in paths:
        for params in variants:
            for accept in ("application/json", "application/yaml"):
                response = get(sb, path, params=params, headers={"Accept": accept})
                assert response.status_code == 200
                assert passcode not in response.text and passcode.lower() not in response.text
                assert "passcode32" not in response.text and "otpauth" not in response.text
    assert_status(sb.http.post(f"{STATE}/hidden/get-qr-code", headers=sb.auth), 403)


def _comparable(response: httpx.Response, name: str) -> tuple[int, str, list[tuple[str, str]]]:
    """Everything but Date and the request id, with the TOTP's name masked (Location)."""
    headers = [(k, v.replace(name, "NAME")) for k, v in response.headers.items()]
    kept = sorted((k, v) for k, v in headers if k not in ("date", "x-request-id"))
    return response.status_code, response.text, kept


def test_other_tenant_is_indistinguishable_from_missing(env: Env) -> None:
    """docs/requirements.md#tenancy: globex (all scopes) on acme's TOTP gets exactly what a
    missing name gets."""
    admin = env.sb()
    assert_status(admin.http.post(CONFIG, json=body("private"), headers=admin.auth), 201)
    globex = env.sb("globex")
    for label, method, path, payload, _ in _operations("private"):
        if label.startswith(("list", "create")):
            continue
        theirs = globex.http.request(method, path, json=payload, headers=globex.auth)
        missing = globex.http.request(
            method, path.replace("private", "nosuch"), json=payload, headers=globex.auth
        )
        # PUT creates in the caller's own tenant (here a dry run): 201 for both.
        assert theirs.status_code == (201 if label == "put" else 404), label
        assert _comparable(theirs, "private") == _comparable(missing, "nosuch"), label
    assert "private" not in globex.get(CONFIG, params={"keys": "true"}).json()
    # The same name in two tenants is two credentials (docs/requirements.md#tenancy).
    assert_status(
        globex.http.post(CONFIG, json=body("private", digits=8), headers=globex.auth), 201
    )
    assert admin.get(f"{CONFIG}/private").json()["digits"] == 6
    assert globex.get(f"{CONFIG}/private").json()["digits"] == 8


def test_path_tricks_never_skip_authentication(env: Env) -> None:
    """each trick is routed with authentication or is 404."""
    admin = env.sb()
    assert_status(admin.http.post(CONFIG, json=body("victim"), headers=admin.auth), 201)
    tricks = [
        f"{CONFIG}/..%2F..%2Fadmin",
        f"{CONFIG}/victim;jsessionid=x",
        "/V1/config/strongbox/totp/victim",
        "//v1/config/strongbox/totp/victim",
        f"{CONFIG}/victim%00",
        f"{CONFIG}/%76ictim",
    ]
    with env.server.client() as http:
        for path in tricks:
            anonymous = http.get(path)
            assert anonymous.status_code in (401, 404), path
            authed = http.get(path, headers=admin.auth)
            assert authed.status_code in (200, 404), path
            if authed.status_code == 200:
                assert anonymous.status_code == 401


def test_method_override_headers_are_ignored(env: Env) -> None:
    """X-HTTP-Method-Override does not turn a read into a delete."""
    admin = env.sb()
    assert_status(admin.http.post(CONFIG, json=body("keepme"), headers=admin.auth), 201)
    reader = env.sb("reader")
    for header in ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"):
        response = reader.http.get(f"{CONFIG}/keepme", headers={header: "DELETE", **reader.auth})
        assert_status(response, 200)
        post = reader.http.post(f"{CONFIG}/keepme", headers={header: "DELETE", **reader.auth})
        assert_status(post, 405)
    assert_status(admin.get(f"{CONFIG}/keepme"), 200)
    with env.server.client() as http:
        options = http.options(f"{CONFIG}/keepme", headers={"Origin": "https://evil.example"})
        assert_status(options, 204)
        assert options.content == b"" and "access-control-allow-origin" not in options.headers
