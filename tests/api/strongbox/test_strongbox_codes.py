"""Codes and enrolment against independent oracles: oathtool and Python hmac agree with
get-code, zbarimg reads get-qr-code back to exactly the url; verify-code ."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import struct
import subprocess
import time
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import httpx
import pytest

from tests.support.deployment import Deployment as Env
from tests.support.strongbox import CONFIG, STATE, assert_status, b32, body, secret

_names = (f"c{n}" for n in itertools.count())


def oathtool(raw: bytes, at: int, algorithm: str, digits: int, period: int) -> str:
    """oathtool reads the key from standard input ('-'), so it is not on a command line."""
    result = subprocess.run(
        [
            "oathtool",
            f"--totp={algorithm.upper()}",
            "-b",
            "-d",
            str(digits),
            "-s",
            f"{period}s",
            "-N",
            f"@{at}",
            "-",
        ],
        input=b32(raw),
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def python_totp(raw: bytes, at: int, algorithm: str, digits: int, period: int) -> str:
    """RFC 6238 with the standard library (oathtool has no sha224/sha384)."""
    mac = hmac.new(raw, struct.pack(">Q", at // period), getattr(hashlib, algorithm)).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


ORACLE_CASES = [
    ("sha1", 6, 30, oathtool),
    ("sha1", 8, 60, oathtool),
    ("sha256", 6, 30, oathtool),
    ("sha256", 8, 30, oathtool),
    ("sha512", 6, 30, oathtool),
    ("sha512", 8, 90, oathtool),
    ("sha224", 6, 30, python_totp),
    ("sha384", 8, 30, python_totp),
    ("sha1", 10, 30, python_totp),
]


@pytest.mark.parametrize(("algorithm", "digits", "period", "oracle"), ORACLE_CASES)
def test_get_code_agrees_with_oracle(
    env: Env, algorithm: str, digits: int, period: int, oracle: Any
) -> None:
    sb = env.sb()
    raw = secret({"sha1": 20, "sha224": 28, "sha256": 32, "sha384": 48, "sha512": 64}[algorithm])
    name = next(_names)
    fields = {"algorithm": algorithm, "digits": digits, "period": f"{period}s"}
    assert_status(sb.http.post(CONFIG, json=body(name, raw, **fields), headers=sb.auth), 201)
    before = int(time.time())
    code = sb.code(name)
    after = int(time.time())
    # The call may straddle a step boundary: accept the code of either side.
    expected = {oracle(raw, at, algorithm, digits, period) for at in {before, after}}
    assert code in expected and len(code) == digits and code.isascii() and code.isdigit()
    assert sb.verify(name, code).json() == {"valid": True}


def _qr(sb: Any, name: str, tmp_path: Path) -> tuple[str, str]:
    response = sb.http.post(f"{STATE}/{name}/get-qr-code", headers=sb.auth)
    assert_status(response, 200)
    payload = response.json()
    assert list(payload) == ["qr-code", "url"]
    png = base64.b64decode(payload["qr-code"], validate=True)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    path = tmp_path / f"{name}.png"
    path.write_bytes(png)
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(path)], capture_output=True, check=True)
    return payload["url"], decoded.stdout.decode("utf-8").rstrip("\n")


def test_qr_code_decodes_to_exactly_the_url(env: Env, tmp_path: Path) -> None:
    sb = env.sb()
    raw = secret(32)
    fields = {
        "algorithm": "sha256",
        "digits": 8,
        "period": "1m",
        "issuer": "ACME Corp",
        "account-name": "ann@example.com",
    }
    assert_status(sb.http.post(CONFIG, json=body("qr", raw, **fields), headers=sb.auth), 201)
    url, decoded = _qr(sb, "qr", tmp_path)
    assert decoded == url == sb.get(f"{STATE}/qr").json()["url"]
    assert url == (
        f"otpauth://totp/Sbox:ann@example.com?secret={b32(raw)}&issuer=ACME%20Corp"
        "&algorithm=SHA256&digits=8&period=60"
    )


TRICKY = [
    "a b",
    "a@b&c#d%e+f/g?h",
    unicodedata.normalize("NFC", "é"),
    unicodedata.normalize("NFD", "é"),
    "Straße",
    "中文",
    "😀",
]
# Bidi overrides and zero-width characters would let a label pass for another in an app:
# refused since #9 (docs/security.md, "Labels").
SPOOFING = ["evil\u202egnp.exe", "a\u200db"]


@pytest.mark.parametrize("text", SPOOFING, ids=["rlo", "zwj"])
def test_spoofing_labels_are_400(env: Env, text: str) -> None:
    sb = env.sb()
    payload = body(next(_names), issuer=text, account_name="u " + text)
    assert_status(sb.http.post(CONFIG, json=payload, headers=sb.auth), 400)


@pytest.mark.parametrize("text", TRICKY, ids=[t.encode("unicode_escape").decode() for t in TRICKY])
def test_issuer_and_account_encoding_round_trip(env: Env, tmp_path: Path, text: str) -> None:
    """stored as sent (no Unicode normalisation), percent-encoded per RFC 3986 in the url,
    and the QR code carries the same bytes."""
    sb = env.sb()
    name = next(_names)
    payload = body(name, issuer=text, account_name="u " + text)
    assert_status(sb.http.post(CONFIG, json=payload, headers=sb.auth), 201)
    stored = sb.get(f"{CONFIG}/{name}").json()
    assert (stored["issuer"], stored["account-name"]) == (text, "u " + text)
    url, decoded = _qr(sb, name, tmp_path)
    assert decoded == url and url.isascii() and " " not in url and "+" not in url.split("?")[1]
    parts = urlsplit(url)
    assert unquote(parts.path) == "/Sbox:u " + text
    assert parse_qs(parts.query)["issuer"] == [text]


def test_verify_code_accepts_once(env: Env) -> None:
    """a code is accepted once; resubmitting it is a plain {"valid": false}."""
    sb = env.sb()
    name = next(_names)
    assert_status(sb.http.post(CONFIG, json=body(name), headers=sb.auth), 201)
    code = sb.code(name)
    first = sb.verify(name, code)
    assert_status(first, 200)
    assert first.json() == {"valid": True}
    assert sb.verify(name, code).json() == {"valid": False}


MALFORMED = [
    "",
    "12345",
    "1234567",
    " {c}",
    "{c} ",
    "{c3} {c3e}",
    "{c}\n",
    "+{c}",
    "-{c}",
    "{c3}_{c3e}",
    "2.8e5",
    "{fw}",
    "{ar}",
    "{c}\u0000",
    "1" * 10000,
]


def _render(template: str, code: str) -> str:
    full_width = "".join(chr(0xFF10 + int(d)) for d in code)
    arabic = "".join(chr(0x0660 + int(d)) for d in code)
    return template.format(c=code, c3=code[:3], c3e=code[3:], fw=full_width, ar=arabic)


@pytest.mark.parametrize("template", MALFORMED)
def test_malformed_codes_never_accepted(env: Env, template: str) -> None:
    """not even when the digits are the current code (one fresh TOTP per case)."""
    sb = env.sb()
    name = next(_names)
    assert_status(sb.http.post(CONFIG, json=body(name), headers=sb.auth), 201)
    code = sb.code(name)
    response = sb.verify(name, _render(template, code))
    assert_status(response, 200)
    assert response.json() == {"valid": False}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"code": None},
        {"code": 287082},
        {"code": ["1"]},
        {"code": {}},
        {"code": True},
        [],
        "287082",
    ],
)
def test_verify_code_needs_a_string_code(env: Env, payload: Any) -> None:
    sb = env.sb()
    name = next(_names)
    assert_status(sb.http.post(CONFIG, json=body(name), headers=sb.auth), 201)
    response = sb.http.post(f"{STATE}/{name}/verify-code", json=payload, headers=sb.auth)
    assert_status(response, 400)
    assert "code" in response.json()["errors"][0]["error-message"]
    assert_status(sb.http.post(f"{STATE}/{name}/verify-code", headers=sb.auth), 400)


def _wire(response: httpx.Response) -> tuple[int, str, bytes, list[tuple[str, str]]]:
    headers = sorted(
        (k, v) for k, v in response.headers.items() if k not in ("date", "x-request-id")
    )
    return response.status_code, response.reason_phrase, response.content, headers


def test_wrong_replayed_throttled_identical(env: Env) -> None:
    """docs/requirements.md#no-oracle: within Strongbox, wrong, replayed and throttled answers
    are byte-identical."""
    sb = env.sb()
    name = next(_names)
    assert_status(sb.http.post(CONFIG, json=body(name), headers=sb.auth), 201)
    code = sb.code(name)
    assert sb.verify(name, code).json() == {"valid": True}
    replayed = sb.verify(name, code)
    wrong = sb.verify(name, str((int(code) + 1) % 10**6).zfill(6))
    for _ in range(6):
        sb.verify(name, "000000" if code != "000000" else "111111")
    throttled = sb.verify(name, sb.code(name))
    assert _wire(replayed) == _wire(wrong) == _wire(throttled)
    assert replayed.json() == {"valid": False}


def test_unknown_name_is_404_everywhere(env: Env) -> None:
    sb = env.sb()
    for operation in ("get-code", "get-qr-code", "verify-code"):
        response = sb.http.post(
            f"{STATE}/nosuch/{operation}", json={"code": "123456"}, headers=sb.auth
        )
        assert_status(response, 404)
