"""PUT /api/authentication/otp_token_auth over real HTTP: every status path, Basic auth with
the client key, tenants and their modes, the proxy header, byte-identical 403s (issue #6;
docs/requirements.md#no-oracle, docs/requirements.md#strict-codes, docs/requirements.md#tenancy,
docs/requirements.md#least-privilege)."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.clients import PHENIX_PATH as PATH
from tests.support.clients import Cred, basic
from tests.support.clients import phenix_put as put
from tests.support.deployment import CERT_SUBJECT as SUBJECT
from tests.support.deployment import Deployment, start_deployment
from tests.support.phenixid import raw_request, raw_status, shape

NGINX_SUBJECT = r"CN=client-a,O=Acme AB,C=SE"  # what nginx's $ssl_client_s_dn sends


@pytest.fixture(scope="module")
def px(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Tenants: acme (Basic, the default), globex, open (no authentication), certs (client
    certificates, SUBJECT allowed) and noops (no operation allowed); the roles' clients."""
    env = {"OTPD_TRUSTED_PROXIES": "127.0.0.1", "OTPD_THROTTLE_BASE_DELAY": "300"}
    px = start_deployment(tmp_path_factory.mktemp("phenixid") / "data", "phenixid", env=env)
    yield px
    px.close()


@pytest.fixture(scope="module")
def http(px: Deployment) -> Iterator[httpx.Client]:
    with px.http() as client:
        yield client


def ok_body(cred: Cred, otp: object = None) -> dict[str, object]:
    return {"username": cred.name, "otp": cred.code() if otp is None else otp}


# --- 200 and the replay -------------------------------------------------------------------
def test_strongbox_credential_verifies_once_then_replay_is_403(
    px: Deployment, http: httpx.Client
) -> None:
    cred = px.enrol("admin")
    code = cred.code()
    auth = px.basic("verifier")
    first = put(http, {"username": cred.name, "otp": code}, auth=auth)
    again = put(http, {"username": cred.name, "otp": code}, auth=auth)
    assert (first.status_code, first.content) == (200, b"")
    assert first.headers["content-length"] == "0" and "content-type" not in first.headers
    assert (again.status_code, again.content) == (403, b"")


def test_trailing_slash_and_extra_members(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("admin")
    body = {**ok_body(cred), "client": "vpn", "lang": "sv"}
    response = put(http, body, auth=px.basic("verifier"), path=PATH + "/")
    assert response.status_code == 200


def test_charset_parameter_and_case_of_content_type(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("admin")
    headers = {"Content-Type": "Application/JSON; charset=utf-8"}
    assert put(http, ok_body(cred), auth=px.basic("verifier"), headers=headers).status_code == 200


# --- the otp as a JSON number -------------------------------------------------------
def _leading_zero_cred(px: Deployment, digits: int = 6) -> Cred:
    """A credential whose current code starts with 0 (found locally, then enrolled)."""
    import os

    for _ in range(1000):
        cred = Cred("probe", os.urandom(20), digits)
        if cred.code().startswith("0"):
            return px.enrol("admin", secret=cred.secret, digits=digits)
    raise AssertionError("no code with a leading zero in 1000 secrets")


@pytest.mark.parametrize("digits", [6, 8])
def test_numeric_otp_is_left_padded_to_the_credentials_digits(
    px: Deployment, http: httpx.Client, digits: int
) -> None:
    cred = _leading_zero_cred(px, digits)
    code = cred.code()
    response = put(
        http,
        content=f'{{"username": "{cred.name}", "otp": {int(code)}}}'.encode(),
        auth=px.basic("verifier"),
    )
    assert response.status_code == 200, code


@pytest.mark.parametrize(
    "otp", ["287082.0", "2.87082e5", "-287082", "true", "false", "null", "[287082]", '{"a":1}']
)
def test_other_json_values_are_400(px: Deployment, http: httpx.Client, otp: str) -> None:
    cred = px.enrol("admin")
    content = f'{{"username": "{cred.name}", "otp": {otp}}}'.encode()
    assert put(http, content=content, auth=px.basic("verifier")).status_code == 400


# --- 400 ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"[]",
        b'"x"',
        b'{"otp": "123456"}',
        b'{"username": "a"}',
        b'{"username": "", "otp": "123456"}',
        b'{"username": 12, "otp": "123456"}',
        b'{"username": null, "otp": "123456"}',
        b'{"username": "a", "otp": "123456", "otp": "654321"}',
        b'{"username": "a", "username": "b", "otp": "123456"}',
        b'{"username": "a", "otp": NaN}',
        b"{" * 5000,
    ],
)
def test_malformed_bodies_are_400(px: Deployment, http: httpx.Client, content: bytes) -> None:
    response = put(http, content=content, auth=px.basic("verifier"))
    assert (response.status_code, response.content) == (400, b"")


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/jsonx", "json"])
def test_wrong_content_type_is_400(
    px: Deployment, http: httpx.Client, content_type: str | None
) -> None:
    cred = px.enrol("admin")
    headers = {"tenant": "acme", "Authorization": px.basic("verifier")}
    if content_type:
        headers["Content-Type"] = content_type
    response = http.put(PATH, content=b'{"username": "x", "otp": "123456"}', headers=headers)
    assert response.status_code == 400
    # A good request for the same credential still works: nothing was counted against it.
    assert put(http, ok_body(cred), auth=px.basic("verifier")).status_code == 200


# --- malformed codes are wrong codes, never accepted ----------------------------------
def test_malformed_codes_are_403_and_never_accepted(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("admin")
    code = cred.code()
    full_width = "".join(chr(0xFF10 + int(c)) for c in code)
    arabic = "".join(chr(0x0660 + int(c)) for c in code)
    variants = [
        "", code[:5], code + "1", " " + code, code + " ", code[:3] + " " + code[3:],
        code + "\n", "+" + code, "-" + code, code[:3] + "_" + code[3:], full_width, arabic,
        code + "\x00", "9" * 10_000,
    ]  # fmt: skip
    auth = px.basic("verifier")
    for variant in variants[:4]:  # under the throttle's free failures
        assert put(http, {"username": cred.name, "otp": variant}, auth=auth).status_code == 403
    fresh = px.enrol("admin")
    for variant in variants[4:8]:
        assert put(http, {"username": fresh.name, "otp": variant}, auth=auth).status_code == 403
    third = px.enrol("admin")
    for variant in variants[8:12]:
        assert put(http, {"username": third.name, "otp": variant}, auth=auth).status_code == 403
    last = px.enrol("admin")
    for variant in variants[12:]:
        assert put(http, {"username": last.name, "otp": variant}, auth=auth).status_code == 403
    # Each credential still accepts its real code: nothing above was a match.
    for each in (cred, fresh, third, last):
        assert put(http, ok_body(each), auth=auth).status_code == 200


# --- 401 ----------------------------------------------------------------------------
def _bad_authorizations(px: Deployment) -> list[list[tuple[str, str]]]:
    key = px.keys["verifier"]
    return [
        [],
        [("Authorization", "Basic")],
        [("Authorization", "Basic Og==")],  # ":"
        [("Authorization", basic("verifier", ""))],
        [("Authorization", basic("", key))],
        [("Authorization", basic("verifier", key[:-1] + ("A" if key[-1] != "A" else "B")))],
        [("Authorization", basic("nobody", key))],
        [("Authorization", basic("verifier", key + "x"))],
        [("Authorization", "Basic " + base64.b64encode(b"verifier" + key.encode()).decode())],
        [("Authorization", "Basic !!!notbase64")],
        [("Authorization", f"Bearer {key}")],
        [("Authorization", "Bearer null")],
        [("Authorization", "undefined")],
        [("Authorization", "Basic " + "A" * 30_000)],  # 60 kB is refused earlier: 431
        [("Authorization", px.basic("verifier")), ("Authorization", px.basic("verifier"))],
        [("Authorization", px.basic("globex"))],  # a client of another tenant
    ]


def test_basic_missing_or_wrong_is_401_with_challenge(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("admin")
    for extra in _bad_authorizations(px):
        headers = [("Content-Type", "application/json"), ("tenant", "acme"), *extra]
        response = http.put(PATH, json=ok_body(cred), headers=headers)
        assert response.status_code == 401, extra[:1]
        assert response.headers["www-authenticate"] == 'Basic realm="otpd"'
        assert response.content == b""
    huge = [
        ("Content-Type", "application/json"),
        ("tenant", "acme"),
        ("Authorization", "Basic " + "A" * 60_000),
    ]
    # docs/requirements.md#bounded-input
    assert http.put(PATH, json=ok_body(cred), headers=huge).status_code == 431
    # none of that touched the credential
    assert put(http, ok_body(cred), auth=px.basic("verifier")).status_code == 200


def test_scheme_is_case_insensitive(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("admin")
    auth = "bAsIc " + px.basic("verifier").split(" ", 1)[1]
    assert put(http, ok_body(cred), auth=auth).status_code == 200


def test_cross_tenant(px: Deployment, http: httpx.Client) -> None:
    """A's client with `tenant: B` is 401 (docs/api-phenixid.md); the same user name in two
    tenants is two credentials, and one tenant's code does not open the other's
    (docs/requirements.md#tenancy)."""
    mine = px.enrol("admin", name="shared.user")
    theirs = px.enrol("globex", name="shared.user")
    assert put(http, ok_body(theirs), tenant="globex", auth=px.basic("verifier")).status_code == 401
    crossed = put(http, ok_body(theirs), auth=px.basic("verifier"))
    assert crossed.status_code == 403 or theirs.code() == mine.code()
    assert put(http, ok_body(mine), auth=px.basic("verifier")).status_code == 200
    assert put(http, ok_body(theirs), tenant="globex", auth=px.basic("globex")).status_code == 200


# --- 405 ----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PATCH", "OPTIONS", "TRACE", "HEAD"])
@pytest.mark.parametrize("path", [PATH, PATH + "/", "/api/authentication/sendSMS"])
def test_other_methods_are_405_allow_put(http: httpx.Client, method: str, path: str) -> None:
    response = http.request(method, path, headers={"tenant": "acme"})
    assert response.status_code == 405
    assert response.headers["allow"] == "PUT"
    assert response.content == b""


# --- tenants and operations ---------------------------------------------------------
def test_tenant_header_rules(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("admin")
    auth = px.basic("verifier")
    for tenant in (None, "", "ACME", "Acme", "acme2", "nope", "a cme", "system"):
        assert put(http, ok_body(cred), tenant=tenant, auth=auth).status_code == 403, tenant
    two = [("Content-Type", "application/json"), ("tenant", "acme"), ("tenant", "acme")]
    two.append(("Authorization", auth))
    assert http.put(PATH, json=ok_body(cred), headers=two).status_code == 403
    assert put(http, ok_body(cred), auth=auth).status_code == 200  # still unused


def test_unknown_and_disallowed_operations_are_403_after_authentication(
    px: Deployment, http: httpx.Client
) -> None:
    cred = px.enrol("admin")
    auth = px.basic("verifier")
    for op in ("sendSMS", "otp_token_auth;jsessionid=x", "OTP_TOKEN_AUTH", "otp_token_auth.json"):
        path = "/api/authentication/" + op
        assert put(http, ok_body(cred), auth=auth, path=path).status_code == 403, op
        assert put(http, ok_body(cred), path=path).status_code == 401, op  # auth first
    cred3 = px.enrol("noops")
    assert put(http, ok_body(cred3), tenant="noops", auth=px.basic("noops")).status_code == 403


def test_client_without_verify_scope_is_403(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("admin")
    assert put(http, ok_body(cred), auth=px.basic("reader")).status_code == 403


def test_username_blank_or_wildcard_is_rejected_without_side_effects(
    px: Deployment, http: httpx.Client
) -> None:
    """no credential is named by " ", "*" or "%": 403 (or 400 for ""), no counter moves."""
    auth = px.basic("verifier")
    for username in (" ", "*", "%", "user*", "\u0000"):
        assert put(http, {"username": username, "otp": "123456"}, auth=auth).status_code == 403


# --- the mode none ------------------------------------------------------------------------
def test_mode_none_needs_no_authentication(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("open")
    assert put(http, {"username": cred.name, "otp": cred.wrong()}, tenant="open").status_code == 403
    assert put(http, ok_body(cred), tenant="open").status_code == 200
    # Basic credentials are ignored there, even wrong ones
    other = px.enrol("open")
    assert put(http, ok_body(other), tenant="open", auth=basic("x", "y")).status_code == 200


# --- client-cert mode through a trusted proxy (127.0.0.1 here) ------------------------------
def test_proxy_header_from_trusted_proxy(px: Deployment, http: httpx.Client) -> None:
    cred = px.enrol("certs")
    header = {"X-SSL-Client-S-DN": NGINX_SUBJECT}
    assert put(http, ok_body(cred), tenant="certs", headers=header).status_code == 200
    # header names are case-insensitive; the subject is compared in canonical form
    again = px.enrol("certs")
    lower = {"x-ssl-client-s-dn": "cn=client-a,o=Acme AB,c=SE"}
    assert put(http, ok_body(again), tenant="certs", headers=lower).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [("X-SSL-Client-S-DN", "CN=client-b,O=Acme AB,C=SE")],
        [("X-SSL-Client-S-DN", "CN=client-a,O=acme ab,C=SE")],  # values are case-sensitive
        [("X-SSL-Client-S-DN", "CN=client-a,O=Acme AB")],
        [("X-SSL-Client-S-DN", "/C=SE/O=Acme AB/CN=client-a")],  # the legacy form
        [("X-SSL-Client-S-DN", "")],
        [("X-SSL-Client-S-DN", SUBJECT), ("X-SSL-Client-S-DN", SUBJECT)],
        [("X-Client-Cert-Subject", SUBJECT)],  # not the configured header
    ],
)
def test_proxy_header_wrong_or_missing_is_403(
    px: Deployment, http: httpx.Client, headers: list[tuple[str, str]]
) -> None:
    cred = px.enrol("certs")
    sent = [("Content-Type", "application/json"), ("tenant", "certs"), *headers]
    response = http.put(PATH, json=ok_body(cred), headers=sent)
    assert (response.status_code, response.content) == (403, b"")
    assert "www-authenticate" not in response.headers


def test_proxy_header_ignored_from_an_untrusted_address(px: Deployment) -> None:
    """The same request from 127.0.0.2 (not in trusted_proxies): the header is not believed."""
    cred = px.enrol("certs")
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=px.url, transport=transport, timeout=30) as other:
        response = put(other, ok_body(cred), tenant="certs", headers={"X-SSL-Client-S-DN": SUBJECT})
    assert response.status_code == 403
    with px.http() as trusted:
        ok = put(trusted, ok_body(cred), tenant="certs", headers={"X-SSL-Client-S-DN": SUBJECT})
    assert ok.status_code == 200
    line = "127.0.0.2 PUT /api/authentication/otp_token_auth 403"
    assert line in px.server.wait_for_log(line)


# --- path tricks --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/authentication/otp_token_auth/", 401),  # the same handler, with authentication
        ("/api/authentication/otp_token_auth%2f", 401),
        ("/api/authentication/otp%5ftoken%5fauth", 401),
        ("/api/authentication/otp_token_auth?tenant=open", 401),  # a query names no tenant
        ("/api/authentication/otp_token_auth;jsessionid=x", 401),  # another operation: auth first
        (
            "/api/authentication/otp_token_auth//",
            404,
        ),  # no slash redirects (a 307 echoed the query)
        ("//api/authentication/otp_token_auth", 404),
        ("/API/authentication/otp_token_auth", 404),
        ("/api/authentication/./otp_token_auth", 404),
        ("/api/authentication/x/../otp_token_auth", 404),
        ("/api/authentication/%2e%2e/authentication/otp_token_auth", 404),
        ("/api/authentication//otp_token_auth", 404),
        ("/api/authentication/", 404),
    ],
)
def test_path_tricks_never_skip_authentication(px: Deployment, path: str, expected: int) -> None:
    """Without credentials for tenant `acme` (basic), a path is routed to the handler (which asks
    for them) or to nothing; the right code is never accepted and stays unused."""
    cred = px.enrol("admin")
    body = f'{{"username":"{cred.name}","otp":"{cred.code()}"}}'.encode()
    request = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\ntenant: acme\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    assert raw_status(raw_request(px.url, request)) == expected
    with px.http() as http:
        assert put(http, ok_body(cred), auth=px.basic("verifier")).status_code == 200


# --- no oracle ----------------------------------------------------------------------
def test_failures_are_byte_identical(px: Deployment, http: httpx.Client) -> None:
    auth = px.basic("verifier")
    replayed = px.enrol("admin")
    code = replayed.code()
    assert put(http, {"username": replayed.name, "otp": code}, auth=auth).status_code == 200
    throttled = px.enrol("admin")
    for _ in range(5):
        put(http, {"username": throttled.name, "otp": throttled.wrong()}, auth=auth)
    wrong = px.enrol("admin")
    answers = {
        "wrong": put(http, {"username": wrong.name, "otp": wrong.wrong()}, auth=auth),
        "replayed": put(http, {"username": replayed.name, "otp": code}, auth=auth),
        "throttled (right code)": put(http, ok_body(throttled), auth=auth),
        "unknown user": put(http, {"username": "nobody-here", "otp": code}, auth=auth),
        "unknown tenant": put(http, ok_body(wrong), tenant="nope", auth=auth),
        "no tenant": put(http, ok_body(wrong), tenant=None, auth=auth),
        "operation not allowed": put(
            http, ok_body(wrong), tenant="noops", auth=px.basic("noops")
        ),
        "unknown operation": put(http, ok_body(wrong), auth=auth, path="/api/authentication/x"),
        "no verify scope": put(http, ok_body(wrong), auth=px.basic("reader")),
        "no certificate": put(http, ok_body(wrong), tenant="certs"),
    }  # fmt: skip
    shapes = {reason: shape(response) for reason, response in answers.items()}
    expected = shapes["wrong"]
    assert expected[0] == 403 and expected[2] == b""
    for reason, got in shapes.items():
        assert got == expected, reason
    assert put(http, ok_body(wrong), auth=auth).status_code == 200  # the right code still works


def test_throttled_credential_refuses_the_right_code_for_the_delay(
    px: Deployment, http: httpx.Client
) -> None:
    auth = px.basic("verifier")
    cred = px.enrol("admin")
    for _ in range(5):
        assert put(http, {"username": cred.name, "otp": cred.wrong()}, auth=auth).status_code == 403
    started = time.monotonic()
    assert put(http, ok_body(cred), auth=auth).status_code == 403
    assert time.monotonic() - started < 300


def test_oversized_bodies_are_413_empty(px: Deployment, http: httpx.Client) -> None:
    big = b'{"username": "' + b"x" * (64 * 1024) + b'", "otp": "123456"}'

    def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while streaming
        for offset in range(0, len(big), 4096):
            yield big[offset : offset + 4096]

    headers = {"tenant": "acme", "Content-Type": "application/json"}
    headers["Authorization"] = px.basic("verifier")
    for content in (big, chunks()):
        response = http.put(PATH, content=content, headers=headers)
        assert (response.status_code, response.content) == (413, b"")
