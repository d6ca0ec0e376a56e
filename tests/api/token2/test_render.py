"""The four Token2 formats, checked by real parsers (docs/requirements.md#output-encoding): PHP's
unserialize() for format 0 (byte lengths of multibyte text), an XML parser for format 2, json for
format 1."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otpd.api.token2 import render
from otpd.api.token2.errors import Failure
from otpd.api.token2.parse import Call, Format
from tests.support.token2 import php_unserialize, xml_fields, xml_users

HOSTILE = [
    "é",
    "日本語テキスト",
    "emoji 🙂 and \u200b zero width",
    "\"quoted\" 'single' `back`",
    '<tag attr="x">&amp; & ]]> </tag>',
    'a:1:{s:1:"x";i:1;}',  # serialized text inside a string
    's:3:"abc";',
    "line\nbreak\r\ntab\t",
    "; DROP TABLE credential;--",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "\\",
    "",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_php_serialize_round_trips_through_php(text: str) -> None:
    body = {"response": text, "userid": 123, "success": "false", "code": ["22", text]}
    serialized = render.php_serialize(body)
    assert php_unserialize(serialized.encode("utf-8")) == body


def test_php_lengths_are_utf8_bytes() -> None:
    assert render.php_serialize("é") == 's:2:"é";'
    assert render.php_serialize("🙂") == 's:4:"🙂";'
    assert render.php_serialize(7) == "i:7;"
    assert render.php_serialize(["a"]) == 'a:1:{i:0;s:1:"a";}'
    assert render.php_serialize({"k": None, "b": True}) == 'a:2:{s:1:"k";N;s:1:"b";b:1;}'
    with pytest.raises(TypeError):
        render.php_serialize(1.5)


@pytest.mark.parametrize("text", HOSTILE)
def test_xml_is_escaped_and_well_formed(text: str) -> None:
    document = render.xml_document({"response": text, "code": ["1", "2"], "userid": 5})
    assert xml_fields(document.encode("utf-8")) == {
        "response": text.replace("\r\n", "\n").replace("\r", "\n"),  # XML normalises line ends
        "code": ["1", "2"],
        "userid": "5",
    }


def test_xml_of_users_and_illegal_characters() -> None:
    rows = [{"userid": "1", "username": "a&b", "registered": "2024-01-01 00:00:00"}]
    assert xml_users(render.xml_document(rows).encode()) == rows
    assert render.xml_document([]) == '<?xml version="1.0" encoding="UTF-8"?>\n<result></result>'
    # characters XML 1.0 cannot carry become U+FFFD instead of breaking the document
    document = render.respond({"response": "a\x00b\x1fc\ufffe"}, Format.XML, ok=False).body
    assert xml_fields(bytes(document)) == {"response": "a\ufffdb\ufffdc\ufffd"}


@pytest.mark.parametrize("fmt", list(Format))
def test_lone_surrogates_become_replacement_characters(fmt: Format) -> None:
    response = render.respond({"response": "x\ud800y", "success": "false"}, fmt, ok=False)
    body = bytes(response.body)
    body.decode("utf-8")  # valid UTF-8 in every format
    if fmt is Format.JSON:
        assert json.loads(body)["response"] == "x?y"
    elif fmt is Format.SERIALIZED:
        assert php_unserialize(body)["response"] == "x?y"


@pytest.mark.parametrize(
    ("fmt", "content_type", "text"),
    [
        (Format.SERIALIZED, "text/plain; charset=utf-8", 'a:1:{s:7:"success";s:4:"true";}'),
        (Format.JSON, "application/json; charset=utf-8", '{"success":"true"}'),
        (
            Format.XML,
            "application/xml; charset=utf-8",
            '<?xml version="1.0" encoding="UTF-8"?>\n<result><success>true</success></result>',
        ),
        (Format.PLAIN, "text/plain; charset=utf-8", "true"),
    ],
)
def test_content_types_and_bytes(fmt: Format, content_type: str, text: str) -> None:
    response = render.respond({"success": "true"}, fmt, ok=True)
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "no-store"
    assert bytes(response.body) == text.encode()
    assert response.status_code == 200


def test_failure_bodies_per_call() -> None:
    failure = Failure(200, "Phone number is not valid", ("23",))
    assert render.failure_body(Call.CREATEUSER, failure) == {
        "response": "Phone number is not valid",
        "success": "false",
        "error": "Phone number is not valid",
        "code": ["23"],
    }
    assert render.failure_body(Call.VALIDATE, failure) == {
        "response": "Phone number is not valid",
        "validation": "false",
    }
    for call in (Call.LISTUSERS, Call.OTHER):
        assert render.failure_body(call, failure) == {
            "success": "false",
            "response": "Phone number is not valid",
        }


def test_hashqr_puts_the_secret_last() -> None:
    url = render.hashqr("https://otp.example.com/base", "T" * 43, "ABCDEF")
    assert url == f"https://otp.example.com/base/qr/{'T' * 43}.png?secret=ABCDEF"


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(st.sampled_from(["response", "error", "x"]), st.text(max_size=40)))
def test_every_format_round_trips_any_text(body: dict[str, Any]) -> None:
    """Property: whatever text a body holds, JSON and PHP read back exactly that text."""
    clean = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in body.items()}
    as_json = render.respond(body, Format.JSON, ok=True).body
    assert json.loads(bytes(as_json)) == clean
    serialized = render.respond(body, Format.SERIALIZED, ok=True).body
    assert php_unserialize(bytes(serialized)) == (clean or [])  # PHP: an empty array is []
