"""Hypothesis strategies for request inputs: JSON-ish values, TOTP objects, bodies in the
formats the APIs read, parameter lists and header values. Shared by the property tests here."""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

from otpd.api.strongbox.parse import CONFIG_FIELDS

# Scalars a JSON or YAML body can hold, edge values included (huge ints, unicode, control chars).
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["30s", "1m30s", "1y", "0s", "sha256", "JBSWY3DPEHPK3PXP", "", "-1"])
)

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

FIELD_NAMES = st.sampled_from(CONFIG_FIELDS) | st.text(max_size=12)

TOTP_OBJECTS: st.SearchStrategy[dict[str, Any]] = st.dictionaries(
    FIELD_NAMES, JSON_VALUES, max_size=8
)

PATCH_OPS: st.SearchStrategy[Any] = (
    st.lists(
        st.fixed_dictionaries(
            {
                "op": st.sampled_from(["add", "remove", "replace", "move", "copy", "test"])
                | st.text(max_size=6),
                "path": st.sampled_from(
                    ["/digits", "/period", "/name", "/passcode32", "", "/", "/a/b", "/-"]
                )
                | st.text(max_size=10),
            },
            optional={
                "value": JSON_VALUES,
                "from": st.sampled_from(["/digits", "", "/x"]) | st.text(max_size=8),
            },
        ),
        max_size=6,
    )
    | JSON_VALUES
)


def _yaml(value: Any) -> bytes:
    return yaml.safe_dump(value, allow_unicode=True).encode("utf-8")


YAML_SNIPPETS = st.sampled_from(
    [
        b"a: &x [1, 2]\nb: *x\n",
        b"!!python/object/apply:os.system ['true']\n",
        b"name: !!binary aGVsbG8=\n",
        b"? [a, b]\n: 1\n",
        b"name: a\nname: b\n",
        b"<<: {name: x}\n",
        b"- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - 1\n",
        b"%YAML 1.1\n---\nname: x\n...\n",
        b"{" * 200,
        b"[" * 5000,
        b"\xef\xbb\xbfname: x\n",
        b"name: 2001-01-01\n",
        b"digits: 0x10\nperiod: 1_0\n",
    ]
)

# Bodies: a value serialised as JSON or YAML, a known-nasty snippet, or raw bytes.
BODIES: st.SearchStrategy[bytes] = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode("utf-8")),
    TOTP_OBJECTS.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8")),
    TOTP_OBJECTS.map(_yaml),
    PATCH_OPS.map(lambda v: json.dumps(v).encode("utf-8")),
    YAML_SNIPPETS,
    # What verify-code, login and refresh read: right keys, any values.
    st.fixed_dictionaries(
        {},
        optional={
            "code": JSON_VALUES | st.from_regex(r"[0-9]{6,8}", fullmatch=True),
            "username": st.sampled_from(["admin", "alice"]) | JSON_VALUES,
            "password": JSON_VALUES,
            "tenant": st.sampled_from(["acme", "system"]) | JSON_VALUES,
            "increment": st.sampled_from(["15m", "0s", "1y"]) | JSON_VALUES,
            "share": st.text(max_size=80),
            "reset": JSON_VALUES,
            "nonce": JSON_VALUES,
        },
    ).map(lambda v: json.dumps(v).encode("utf-8")),
    st.binary(max_size=200),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
)

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/yaml",
        "application/x-yaml",
        "text/yaml",
        "text/plain",
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "APPLICATION/JSON",
        "multipart/form-data; boundary=x",
        "",
    ]
) | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)

# A header value as the HTTP layer would deliver it: bytes without CR, LF or NUL.
HEADER_BYTES = st.binary(max_size=120).map(
    lambda b: b.replace(b"\r", b"").replace(b"\n", b"").replace(b"\x00", b"")
)

TOKEN2_NAMES = st.sampled_from(
    [
        "api_key",
        "api",
        "userid",
        "token",
        "format",
        "action",
        "email",
        "phone",
        "pin",
        "type",
        "send",
    ]
) | st.text(max_size=8)
TOKEN2_VALUES = st.sampled_from(
    ["0", "1", "2", "3", "01", "json", "listusers", "123456", "9" * 30, "+15551234567", "a@b.c", ""]
) | st.text(max_size=40)
TOKEN2_PARAMS: st.SearchStrategy[list[tuple[str, str]]] = st.lists(
    st.tuples(TOKEN2_NAMES, TOKEN2_VALUES), max_size=8
)
