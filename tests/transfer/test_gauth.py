"""The hand-written protobuf reader against the protobuf runtime: any payload the runtime
writes from google_auth.proto decodes to the same fields, and damaged ones are refused."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otpd.transfer.formats import FormatError, ParseOptions
from otpd.transfer.formats.gauth import decode_payload, parse
from tests.support import builders as b

entries = st.lists(
    st.fixed_dictionaries(
        {
            "secret": st.binary(max_size=80),
            "name": st.text(max_size=40),
            "issuer": st.text(max_size=20),
            "algorithm": st.integers(0, 4),
            "digits": st.integers(0, 2),
            "type": st.integers(0, 2),
            "counter": st.integers(-(2**63), 2**63 - 1),
        }
    ),
    max_size=6,
)
int32 = st.integers(-(2**31), 2**31 - 1)


@settings(max_examples=300, deadline=None)
@given(entries, int32, int32, int32, int32)
def test_decoder_agrees_with_protobuf_runtime(
    params: list[dict[str, object]], version: int, size: int, index: int, batch_id: int
) -> None:
    payload = b.MigrationPayload(
        version=version, batch_size=size, batch_index=index, batch_id=batch_id
    )
    for p in params:
        payload.otp_parameters.add(**p)
    batch = decode_payload(payload.SerializeToString())
    assert (batch.version, batch.batch_size, batch.batch_index, batch.batch_id) == (
        version,
        size,
        index,
        batch_id,
    )
    decoded = [
        {
            "secret": e.secret,
            "name": e.name,
            "issuer": e.issuer,
            "algorithm": e.algorithm,
            "digits": e.digits,
            "type": e.kind,
            "counter": e.counter,
        }
        for e in batch.entries
    ]
    assert decoded == params


@settings(max_examples=200, deadline=None)
@given(entries.filter(bool), st.data())
def test_truncated_payload_is_a_whole_file_error(
    params: list[dict[str, object]], data: st.DataObject
) -> None:
    payload = b.MigrationPayload(version=1)
    for p in params:
        payload.otp_parameters.add(**p)
    raw = payload.SerializeToString()
    cut = data.draw(st.integers(1, len(raw) - 1))
    try:
        batch = decode_payload(raw[:cut])
    except FormatError:
        return
    # A cut on a field boundary is a valid, shorter payload: never more than was sent.
    assert len(batch.entries) <= len(params)


def test_issuer_account_names_and_md5() -> None:
    creds = [b.Cred("alice", bytes(range(20))), b.Cred("bob", bytes(range(20)), "md5")]
    rows = list(parse(b.gauth(creds), ParseOptions()))
    assert [(r.issuer, r.account, r.algorithm) for r in rows] == [  # type: ignore[union-attr]
        ("Acme", "alice", "sha1"),
        ("Acme", "bob", "md5"),
    ]


def test_batches_must_all_be_there() -> None:
    creds = [b.Cred(f"user{i}", bytes([i]) * 20) for i in range(4)]
    uris = [b.gauth_uri(b.gauth_payload(creds[i * 2 : i * 2 + 2], (2, i, 99))) for i in range(2)]
    rows = list(parse("\n".join(uris).encode(), ParseOptions()))
    assert [r.account for r in rows] == ["user0", "user1", "user2", "user3"]  # type: ignore[union-attr]
    with pytest.raises(FormatError, match="lacks QR code"):
        list(parse(uris[1].encode(), ParseOptions()))


@pytest.mark.parametrize(
    "line",
    [
        "otpauth-migration://offline",
        "otpauth-migration://offline?data=%%%",
        "https://example.com/?data=AAAA",
        "otpauth-migration://offline?data=" + quote(base64.b64encode(b"\x0a\x05ab").decode()),
    ],
)
def test_bad_lines_fail_the_file(line: str) -> None:
    with pytest.raises(FormatError):
        list(parse(line.encode(), ParseOptions()))
