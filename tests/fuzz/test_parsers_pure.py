"""Properties of the pure request parsers of the three APIs: whatever the input, they return a
value or raise the adapter's own error (an OtpdError the adapter renders as a 4xx), never
anything else (which the last-resort handler would turn into a 500).

Written against behaviour, not internals: the parsers may change, the contract may not."""

from __future__ import annotations

import contextlib
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from otpd.api.common import media_type_of, parse_json_object
from otpd.api.phenixid.parse import basic_credentials, parse_token_auth, tenant_header
from otpd.api.strongbox.parse import (
    Body,
    apply_patch,
    format_duration,
    parse_content,
    parse_duration,
    parse_fields,
    spec_from_fields,
)
from otpd.api.token2.parse import (
    Call,
    Format,
    Params,
    call_for_path,
    create_user,
    params_from_query,
    require_listusers,
    validate,
)
from otpd.core.errors import InvalidInput, OtpdError
from tests.support.strategies import (
    BODIES,
    CONTENT_TYPES,
    HEADER_BYTES,
    JSON_VALUES,
    PATCH_OPS,
    TOKEN2_PARAMS,
    TOTP_OBJECTS,
)

FEW = settings(max_examples=200, deadline=None)

CURRENT = {
    "name": "alice",
    "digits": 6,
    "algorithm": "sha1",
    "period": "30s",
    "issuer": "unknown",
    "account-name": "unknown",
    "skew": 1,
    "key-size": 20,
}


# --- Strongbox ------------------------------------------------------------------------------


@FEW
@given(JSON_VALUES)
def test_parse_duration_is_positive_seconds_or_invalid_input(value: Any) -> None:
    try:
        seconds = parse_duration(value)
    except InvalidInput:
        return
    assert type(seconds) is int and seconds >= 0
    if seconds < 10**6 * 86400:  # format_duration writes days; the parser reads 6 digits of them
        assert parse_duration(format_duration(seconds)) == seconds or seconds == 0


@FEW
@given(st.none() | st.text(max_size=2000))
def test_query_parsers(value: str | None) -> None:
    for parse in (parse_fields, parse_content):
        with contextlib.suppress(InvalidInput):
            parse(value)


@FEW
@given(TOTP_OBJECTS | JSON_VALUES, st.none() | st.text(max_size=20))
def test_spec_from_fields_raises_only_its_own_errors(fields: Any, path_name: str | None) -> None:
    try:
        spec, secret = spec_from_fields(fields, path_name)
    except OtpdError as error:
        # The message names the field and the rule, never a value (a misplaced secret).
        secret_like = fields.get("passcode32") if isinstance(fields, dict) else None
        if isinstance(secret_like, str) and len(secret_like) >= 12 and secret_like.isalnum():
            assert secret_like not in str(error)  # noqa: PT017 (a property, not one case)
        return
    assert isinstance(spec.name, str)
    assert secret is None or len(secret.reveal()) > 0


@FEW
@given(PATCH_OPS, st.booleans())
def test_apply_patch_then_spec_raises_only_its_own_errors(patch: Any, json_patch: bool) -> None:
    try:
        patched = apply_patch(dict(CURRENT), Body(patch, json_patch))
        spec_from_fields(patched, "alice")
    except OtpdError:
        return


# --- Token2 ---------------------------------------------------------------------------------


@FEW
@given(st.binary(max_size=300) | TOKEN2_PARAMS.map(lambda p: urlencode(p).encode("ascii")))
def test_token2_parameters_never_raise(query: bytes) -> None:
    params = params_from_query(query)
    repr(params)  # names only, and it must not fail on any name
    validated = validate(params)  # documented never to raise
    assert validated.userid >= 0
    assert params.format(Call.VALIDATE) in tuple(Format)
    assert isinstance(params.key(), str)
    for check in (create_user, require_listusers):
        with contextlib.suppress(OtpdError):
            check(params)


@FEW
@given(TOKEN2_PARAMS, TOKEN2_PARAMS)
def test_token2_query_wins_over_form(
    query: list[tuple[str, str]], form: list[tuple[str, str]]
) -> None:
    params = Params(tuple(query), tuple(form))
    for name in {n for n, _ in query + form}:
        first = next(v for n, v in [*query, *form] if n == name)
        assert params.get(name) == first


@FEW
@given(st.text(max_size=60))
def test_token2_paths(path: str) -> None:
    assert call_for_path(path) in tuple(Call)


# --- PhenixID and the shared JSON reader ----------------------------------------------------


@FEW
@given(
    st.lists(
        st.tuples(st.sampled_from([b"tenant", b"authorization", b"x-other"]), HEADER_BYTES),
        max_size=4,
    )
)
def test_phenixid_headers_never_raise(raw: list[tuple[bytes, bytes]]) -> None:
    headers = Headers(raw=raw)
    tenant = tenant_header(headers)
    assert tenant is None or isinstance(tenant, str)
    credentials = basic_credentials(headers)
    assert credentials is None or all(credentials)


@FEW
@given(
    st.none() | CONTENT_TYPES,
    BODIES | JSON_VALUES.map(lambda v: json.dumps({"username": "u", "otp": v}).encode()),
)
def test_phenixid_body_raises_only_invalid_input(content_type: str | None, body: bytes) -> None:
    try:
        parsed = parse_token_auth(media_type_of(content_type), body)
    except InvalidInput:
        return
    assert parsed.username and "otp=***" in repr(parsed)


@FEW
@given(BODIES)
def test_json_object_reader(raw: bytes) -> None:
    with contextlib.suppress(InvalidInput):
        assert isinstance(parse_json_object(raw), dict)


@pytest.mark.parametrize("depth", [10, 10_000, 200_000])
def test_deep_nesting_is_invalid_input_not_recursion(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    with pytest.raises(InvalidInput):
        parse_json_object(raw)
    with pytest.raises(InvalidInput):
        parse_token_auth("application/json", b'{"username": "u", "otp": ' + raw + b"}")
