"""Pure pieces of the RADIUS front-end: framing checks, realm stripping, bind DN escaping,
reply attribute typing, the listen address setting."""

from __future__ import annotations

import struct

import pytest

from otpd.core.errors import ConfigError
from otpd.radius import codec
from otpd.radius.directory import bind_dn
from otpd.radius.handler import strip_realm
from otpd.settings import load_settings


def _packet(code: int, attributes: bytes, length: int | None = None) -> bytes:
    size = 20 + len(attributes) if length is None else length
    return struct.pack("!BBH", code, 1, size) + bytes(range(16)) + attributes


def test_parse_reads_flags_and_ignores_padding() -> None:
    raw = _packet(1, b"\x21\x03x\x50\x12" + bytes(16)) + b"padding"
    request = codec.parse(raw)
    assert request.has_proxy_state and request.has_message_authenticator
    assert request.raw == raw[: -len(b"padding")]  # RFC 2865 §3: past Length is padding


@pytest.mark.parametrize(
    "raw",
    [
        _packet(1, b"", length=21),
        _packet(1, b"\x01\x00"),
        _packet(1, b"\x01\x05ab"),
        _packet(1, b"\x50\x12" + bytes(16) + b"\x50\x12" + bytes(16)),  # two of them
        _packet(5, b""),
        b"\x01" * 4097,
    ],
    ids=["length-past-end", "attribute-length-0", "attribute-past-end", "two-ma", "code", "big"],
)
def test_parse_refuses_bad_framing(raw: bytes) -> None:
    with pytest.raises(codec.BadPacket):
        codec.parse(raw)


def test_strip_realm() -> None:
    assert strip_realm("alice@example.com") == "alice"
    assert strip_realm("EXAMPLE\\alice") == "alice"
    assert strip_realm("alice") == "alice"
    assert strip_realm("@example.com") == "@example.com"  # nothing left: keep the name


def test_bind_dn_escapes_the_user_name() -> None:
    template = "uid={user},ou=people,dc=example,dc=org"
    assert bind_dn(template, "alice") == "uid=alice,ou=people,dc=example,dc=org"
    assert bind_dn(template, "a,ou=admins") == "uid=a\\,ou\\=admins,ou=people,dc=example,dc=org"
    assert bind_dn("{user}@example.com", "bob") == "bob@example.com"


def test_reply_attribute_typing() -> None:
    assert codec.check_reply_attribute("Session-Timeout", "60") == ("Session-Timeout", 60)
    assert codec.check_reply_attribute("Class", "x") == ("Class", b"x")
    for name, value in [("Session-Timeout", "soon"), ("User-Password", "x"), ("Nope", "1")]:
        with pytest.raises(ValueError, match=r"."):
            codec.check_reply_attribute(name, value)


def test_radius_listen_setting() -> None:
    def parse(text: str) -> object:
        return load_settings({"radius_listen": text}, environ={}).radius_listen

    assert parse("192.0.2.1") == ("192.0.2.1", 1812)
    assert parse("[::1]:1645") == ("::1", 1645)
    assert parse("::") == ("::", 1812)
    assert load_settings({}, environ={"OTPD_RADIUS_LISTEN": "127.0.0.1:1"}).radius_listen == (
        "127.0.0.1",
        1,
    )
    for bad in ("radius.example:1812", "1.2.3.4:99999", "1.2.3.4:x"):
        with pytest.raises(ConfigError, match="radius_listen"):
            parse(bad)
