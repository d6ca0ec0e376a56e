"""Quick unit tests of the adapter's pure pieces: durations, YAML output, the error table,
JSON Patch."""

from __future__ import annotations

import json
import time

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from otpd.api.strongbox.errors import PreconditionFailed, error_response
from otpd.api.strongbox.parse import Body, apply_patch, format_duration, parse_duration
from otpd.api.strongbox.render import render
from otpd.core.errors import (
    AlreadyExists,
    Forbidden,
    InvalidInput,
    NotFound,
    Sealed,
    SecretCorrupted,
    StoreUnavailable,
    Unauthenticated,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("1m30s", 90),
        ("1h", 3600),
        ("1d", 86400),
        ("1y2d5h", 365 * 86400 + 2 * 86400 + 5 * 3600),
    ],
)
def test_duration_syntax(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


@given(st.integers(min_value=1, max_value=10**8))
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(
    st.recursive(
        st.text() | st.integers() | st.booleans() | st.none(),
        lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
        max_leaves=8,
    )
)
def test_yaml_output_reads_back_the_same(value: object) -> None:
    """whatever JSON can say, the YAML output says the same (PyYAML, YAML 1.1)."""
    response = render(value, yaml_out=True)
    assert yaml.safe_load(response.body.decode()) == value


@pytest.mark.parametrize("code", ["089123", "012345", "1e3", "0x1F", ".5", "-7", "0o17"])
def test_yaml_quotes_what_yaml_1_2_would_read_as_a_number(code: str) -> None:
    text = render({"code": code}, yaml_out=True).body.decode()
    assert text == f'code: "{code}"\n'


ERRORS = [
    (
        InvalidInput("digits", "must be an integer"),
        400,
        "invalid request: digits: must be an integer",
    ),
    (Unauthenticated("x"), 401, "authentication required"),
    (Forbidden("missing scope read"), 403, "forbidden: missing scope read"),
    (NotFound("no such credential"), 404, "not found: no such credential"),
    (AlreadyExists("x"), 409, "instance exists"),
    (PreconditionFailed("if-match"), 412, "precondition failed"),
    (Sealed(), 503, "strongbox sealed"),  # sealed between the gate and the service call
    (StoreUnavailable("x"), 503, "storage unavailable"),
    (SecretCorrupted("x"), 500, "stored secret failed its integrity check"),
]


@pytest.mark.parametrize(("error", "status", "text"), ERRORS, ids=[e[1].__str__() for e in ERRORS])
def test_error_table(error: Exception, status: int, text: str) -> None:
    assert isinstance(error, Exception)
    response = error_response(error)  # type: ignore[arg-type]
    assert response.status_code == status
    assert json.loads(bytes(response.body)) == {
        "errors": [{"error-message": text, "error-info": {}}]
    }
    assert (response.headers.get("www-authenticate") == "Bearer") == (status == 401)


def test_json_patch_cannot_grow_the_document_exponentially() -> None:
    """Each `copy` of a list into itself doubles it: 40 ops (~2 KB, under the body cap) would
    need 2**40 objects. A TOTP object is flat, so a patch that nests anything is refused
    before the next operation runs."""
    ops = [{"op": "add", "path": "/a", "value": []}]
    ops += [{"op": "copy", "from": "/a", "path": "/a/-"}] * 40
    started = time.monotonic()
    with pytest.raises(InvalidInput):
        apply_patch({"name": "bob"}, Body(ops, json_patch=True))
    assert time.monotonic() - started < 2
