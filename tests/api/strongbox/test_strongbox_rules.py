"""Field rules and hostile bodies: every rule answers 400 (or 413) in the errors format, names
the field, never echoes the value and stores nothing (docs/requirements.md#single-use)."""

from __future__ import annotations

import itertools
import json
import os
from typing import Any

import pytest
import yaml

from tests.support.deployment import Deployment as Env
from tests.support.strongbox import (
    CONFIG,
    assert_status,
    b32,
    body,
    get,
    message,
    register_b32,
    secret,
)

_names = (f"r{n}" for n in itertools.count())

REFUSED: list[tuple[str, Any]] = [
    *[("digits", v) for v in (-1, 0, 5, 11, 40, 65536, 2**63, "6", 6.5, True, [6])],
    *[("period", v) for v in ("0s", "-30s", "1y", "2d", "99999999999s", "30x", "", "30")],
    *[("period", v) for v in ("1m1h", "1.5s", "30S", " 30s", 0, -1, 86401, True, [])],
    *[("period", v) for v in ("\u0663\u0660s", "\uff13\uff10s", "30s\n")],  # non-ASCII digits
    *[("skew", v) for v in (-1, 11, 2**31, "1", 1.0, False)],
    *[("key-size", v) for v in (0, 9, 1025, 1_048_576, "20", 20.0)],
    *[("algorithm", v) for v in ("md5", "SHA1", "sha-256", "", 1)],
    *[("issuer", v) for v in ("telco:com", "", "x" * 257, "tab\there", "nul\x00", "\x7f", 5)],
    *[("account-name", v) for v in ("user:x", "", "line\nbreak", ["a"], "nel\x85", " lead")],
    *[("name", v) for v in ("", "-a", ".a", "a/b", "a b", "é", "x" * 129, 5, "a:b", "a%2Fb")],
    ("nosuch", 1),
    ("url", "otpauth://totp/x?secret=AAAA"),
    ("creation-time", "2022-01-13T07:48:38.327935Z"),
]


@pytest.mark.parametrize(("field", "value"), REFUSED)
def test_field_rule_refused(env: Env, field: str, value: Any) -> None:
    sb = env.sb()
    name = next(_names)
    payload = {**body(name), field: value}
    response = sb.http.post(CONFIG, json=payload, headers=sb.auth)
    assert_status(response, 400)
    assert field in message(response) or field == "name"
    if field in ("issuer", "account-name", "name") and isinstance(value, str) and len(value) > 3:
        assert value not in response.text
    assert_status(sb.get(f"{CONFIG}/{name}"), 404)


ACCEPTED: list[tuple[str, Any, Any]] = [
    *[("digits", v, v) for v in (6, 7, 8, 9, 10)],
    ("period", "1s", "1s"),
    ("period", "90s", "1m30s"),  # read back in canonical form
    ("period", "1m30s", "1m30s"),
    ("period", "1h", "1h"),
    ("period", "24h", "1d"),
    ("period", "1d", "1d"),
    ("period", 60, "1m"),  # a bare integer is seconds
    ("skew", 0, 0),
    ("skew", 10, 10),
    ("issuer", "x" * 256, "x" * 256),
    ("issuer", "Télco & Sons / 100% #1?", "Télco & Sons / 100% #1?"),
    ("digits", None, 6),  # null is "not given": the default applies
    ("issuer", None, "unknown"),
]


@pytest.mark.parametrize(("field", "value", "stored"), ACCEPTED)
def test_field_value_accepted(env: Env, field: str, value: Any, stored: Any) -> None:
    sb = env.sb()
    name = next(_names)
    assert_status(sb.http.post(CONFIG, json={**body(name), field: value}, headers=sb.auth), 201)
    assert sb.get(f"{CONFIG}/{name}").json()[field] == stored


@pytest.mark.parametrize("name", ["a", "A.b_c@d+e-f", "user@example.com", "9" * 128, "Admin"])
def test_names_accepted_case_sensitive(env: Env, name: str) -> None:
    sb = env.sb()
    assert_status(sb.http.post(CONFIG, json=body(name), headers=sb.auth), 201)
    assert sb.get(f"{CONFIG}/{name}").json()["name"] == name
    if name == "Admin":
        assert_status(sb.get(f"{CONFIG}/admin"), 404)


@pytest.mark.parametrize("size", [10, 15, 16, 20, 64, 1024])
def test_key_size_range(env: Env, size: int) -> None:
    sb = env.sb()
    name = next(_names)
    assert_status(sb.http.post(CONFIG, json=body(name, key_size=size), headers=sb.auth), 201)
    assert sb.get(f"{CONFIG}/{name}").json()["key-size"] == 20, "the imported secret wins"


def _passcodes() -> list[tuple[str, str, bool]]:
    raw = secret(20)
    text = b32(raw)  # 32 characters, no padding needed
    odd = b32(secret(16))  # 26 characters: padded with 6 '='
    return [
        ("upper", text, True),
        ("lower", text.lower(), True),
        ("mixed", text[:10].lower() + text[10:], True),
        ("unpadded", odd, True),
        ("padded", odd + "======", True),
        ("ten bytes", b32(secret(10)), True),
        ("fifteen bytes", b32(secret(15)), True),
        ("spaces", " ".join([text[:16], text[16:]]), False),
        ("hyphens", "-".join([text[:16], text[16:]]), False),
        ("digit 0", "0" + text[1:], False),
        ("digit 1", "1" + text[1:], False),
        ("digit 8", "8" + text[1:], False),
        ("digit 9", "9" + text[1:], False),
        ("31 characters", "34XVZAVKQ7PRBE3KJQWHYKC3EAT75I2", False),  # not whole bytes
        ("five bytes", b32(secret(5)), False),
        ("nine bytes", b32(secret(9)), False),
        ("empty", "", False),
        ("wrong padding", odd + "==", False),
        ("padding only", "========", False),
        ("over 1024 bytes", b32(secret(1025)), False),
        ("base64", "q83vEjRWeJA=", False),
    ]


PASSCODES = _passcodes()


@pytest.mark.parametrize(("label", "passcode", "ok"), PASSCODES, ids=[p[0] for p in PASSCODES])
def test_passcode32_import(env: Env, label: str, passcode: str, ok: bool) -> None:
    sb = env.sb()
    name = next(_names)
    response = sb.http.post(CONFIG, json={"name": name, "passcode32": passcode}, headers=sb.auth)
    if ok:
        assert_status(response, 201)
        stored = sb.get(f"{CONFIG}/{name}").json()["passcode32"]
        assert stored == passcode.upper().rstrip("=")
        return
    assert_status(response, 400)
    assert "passcode32" in message(response)
    if len(passcode) > 4:
        assert passcode not in response.text
    assert_status(sb.get(f"{CONFIG}/{name}"), 404)


@pytest.mark.parametrize("value", [12345, None, ["AAAA"], {"a": 1}])
def test_passcode32_not_a_string(env: Env, value: Any) -> None:
    sb = env.sb()
    name = next(_names)
    response = sb.http.post(CONFIG, json={"name": name, "passcode32": value}, headers=sb.auth)
    if value is None:  # null: no import, the server generates a secret
        assert_status(response, 201)
        register_b32(sb.get(f"{CONFIG}/{name}").json()["passcode32"])
        return
    assert_status(response, 400)


def test_huge_passcode_is_413(env: Env) -> None:
    sb = env.sb()
    payload = json.dumps({"name": "huge", "passcode32": "A" * (1024 * 1024)})
    response = sb.http.post(
        CONFIG, content=payload, headers={"Content-Type": "application/json", **sb.auth}
    )
    assert_status(response, 413)
    assert_status(sb.get(f"{CONFIG}/huge"), 404)


BAD_BODIES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "application/json"),
    ("truncated", b'{"name": "x", "digits": 6', "application/json"),
    ("array", b'[{"name": "x"}]', "application/json"),
    ("string", b'"x"', "application/json"),
    ("invalid utf-8", b'{"name": "\xff\xfe"}', "application/json"),
    ("utf-16 bom", '{"name": "x"}'.encode("utf-16"), "application/json"),
    ("deep json", b"[" * 30000 + b"]" * 30000, "application/json"),
    ("duplicate keys", b'{"name": "dupk", "name": "dupk2"}', "application/json"),
    ("xml", b"<totp><name>x</name></totp>", "application/xml"),
    ("yaml object", b"!!python/object/apply:os.system ['true']", "application/yaml"),
    ("yaml tuple", b"name: !!python/tuple [a, b]", "application/yaml"),
    ("yaml duplicate", b"name: dupy\nname: dupy2\n", "application/yaml"),
    ("yaml deep", b"[" * 10000 + b"]" * 10000, "application/yaml"),
    ("yaml broken", b"name: [unclosed", "application/yaml"),
    ("no type, neither", b"name: [unclosed", ""),
]


@pytest.mark.parametrize(("label", "raw", "media"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies(env: Env, label: str, raw: bytes, media: str) -> None:
    sb = env.sb()
    headers = {**sb.auth, **({"Content-Type": media} if media else {})}
    assert_status(sb.http.post(CONFIG, content=raw, headers=headers), 400)
    names = set(sb.get(CONFIG, params={"keys": "true"}).json())
    assert not names & {"x", "dupk", "dupk2", "dupy", "dupy2"}


def test_yaml_alias_bomb_is_cheap_and_refused(env: Env) -> None:
    """Aliases are shared references in PyYAML, never expanded; the result is not a TOTP."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefghij":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}]\n"
    sb = env.sb()
    headers = {"Content-Type": "application/yaml", **sb.auth}
    response = sb.http.post(CONFIG, content=bomb, headers=headers, timeout=5)
    assert_status(response, 400)


def test_json_and_yaml_without_content_type(env: Env) -> None:
    sb = env.sb()
    as_json = json.dumps(body("ct-json")).encode()
    as_yaml = yaml.safe_dump(body("ct-yaml")).encode()
    for raw in (as_json, as_yaml):
        assert_status(sb.http.post(CONFIG, content=raw, headers=sb.auth), 201)
    with_charset = {"Content-Type": "application/json; charset=utf-8", **sb.auth}
    assert_status(sb.http.post(CONFIG, json=body("ct-charset"), headers=with_charset), 201)


INJECTIONS = [
    "' OR '1'='1",
    "'; DROP TABLE credential;--",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "$(id)",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "%2e%2e%2f",
    "<script>&amp;]]>",
    "yes",
    "089123",
    "1e3",
    "~",
    "null",
    "- item",
    "[a, b]",
    "&anchor *alias",
    "! tag #comment",
    "é中文😀",
    "ls\u2028ps\u2029bom\ufeff",  # line breaks to a YAML reader
]


def test_injection_strings_stored_literally(env: Env) -> None:
    """Hostile text is returned exactly, in JSON and in YAML, with no evaluation anywhere."""
    sb = env.sb()
    for index, text in enumerate(INJECTIONS):
        name = f"inj{index}"
        payload = body(name, issuer=text, account_name=text)
        created = sb.http.post(CONFIG, json=payload, headers=sb.auth)
        # A colon (the spec forbids it in issuer and account-name) and, since #9, Unicode
        # separators and format characters (docs/security.md, "Labels") are refused.
        if ":" in text or "\u2028" in text:
            assert_status(created, 400)
            continue
        assert_status(created, 201)
        as_json = sb.get(f"{CONFIG}/{name}").json()
        as_yaml = yaml.safe_load(
            get(sb, f"{CONFIG}/{name}", headers={"Accept": "application/yaml"}).text
        )
        assert as_json["issuer"] == as_yaml["issuer"] == text
        assert as_json["account-name"] == as_yaml["account-name"] == text
        filtered = sb.get(f"{CONFIG}/{name}", params={"fields": text})
        assert_status(filtered, 200)
    assert len(sb.get(CONFIG, params={"keys": "true"}).json()) >= len(INJECTIONS)


def test_injection_in_names_and_paths(env: Env) -> None:
    sb = env.sb()
    for text in INJECTIONS[:6]:
        assert_status(sb.http.post(CONFIG, json=body(text), headers=sb.auth), 400)
    for path in ("..%2F..%2Fadmin", "%27%20OR%20%271%27%3D%271", "x%00y", "%2e%2e"):
        response = sb.get(f"{CONFIG}/{path}")
        assert response.status_code in (404, 400), path
    assert os.path.exists(env.server.data_dir)
