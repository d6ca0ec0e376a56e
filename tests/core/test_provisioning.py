"""Base32 secrets and otpauth:// key URIs (docs/requirements.md#strict-encodings,
docs/requirements.md#enrolment)."""

from __future__ import annotations

import base64
import time
from urllib.parse import urlsplit

import pyotp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otpd.core.errors import InvalidInput
from otpd.core.model import MAX_PERIOD, Algorithm, CredentialSpec, OtpParams, SecretBytes
from otpd.core.provisioning import b32decode_strict, b32encode, build_uri, parse_uri

SEED20 = b"12345678901234567890"
SEED32 = b"12345678901234567890123456789012"
SEED64 = b"1234567890123456789012345678901234567890123456789012345678901234"
B32_20 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
B32_32 = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZA"
B32_64 = (  # the 64-byte seed in Base32, padding dropped
    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    "GEZDGNBVGY3TQOJQGEZDGNA"
)
BYTES19 = bytes(range(1, 20))
B32_19 = "AEBAGBAFAYDQQCIKBMGA2DQPCAIREEY"  # 31 characters: a whole number of bytes after all
B32_15 = "AEBAGBAFAYDQQCIKBMGA2DQP"

# --- b32decode_strict --------------------------------------------------------------

ACCEPTED = [
    (B32_20, SEED20),
    (B32_20.lower(), SEED20),
    ("GezdGNBVgy3tqojqGEZDGNBVGY3TQOJQ", SEED20),
    (B32_32, SEED32),
    (B32_32 + "====", SEED32),
    (B32_32.lower() + "====", SEED32),
    (B32_64, SEED64),
    (B32_64 + "=", SEED64),
    (B32_19, BYTES19),
    (B32_19 + "=", BYTES19),
    (B32_15, bytes(range(1, 16))),
    ("GEZDGNBVGY3TQOJQ", b"1234567890"),
    ("GEZDGNBV", b"12345"),  # decodes; the 10-byte minimum is checked by the service
    ("GEZA", b"12"),
    ("GEZA====", b"12"),
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_b32decode_accepts(text: str, expected: bytes) -> None:
    assert b32decode_strict(text).reveal() == expected


REJECTED = [
    pytest.param("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", id="spaces"),
    pytest.param(" " + B32_20, id="leading-space"),
    pytest.param(B32_20 + " ", id="trailing-space"),
    pytest.param(B32_20 + "\n", id="trailing-newline"),
    pytest.param(B32_20 + "\t", id="trailing-tab"),
    pytest.param("GEZD-GNBV-GY3T-QOJQ-GEZD-GNBV-GY3T-QOJQ", id="hyphens"),
    pytest.param("GEZDGNBVGY3TQOJ0", id="digit-0"),
    pytest.param("GEZDGNBVGY3TQOJ1", id="digit-1"),
    pytest.param("GEZDGNBVGY3TQOJ8", id="digit-8"),
    pytest.param("GEZDGNBVGY3TQOJ9", id="digit-9"),
    pytest.param(B32_20[:-1], id="31-chars-truncated"),
    pytest.param(B32_20[:-1] + "=", id="31-chars-truncated-padded"),
    pytest.param("GEZDGNBVG", id="length-1-mod-8"),
    pytest.param("GEZDGNBVGEZ", id="length-3-mod-8"),
    pytest.param("GEZDGNBVGEZDGN", id="length-6-mod-8"),
    pytest.param("", id="empty"),
    pytest.param("=", id="only-padding"),
    pytest.param("========", id="only-padding-block"),
    pytest.param(B32_32 + "===", id="padding-too-short"),
    pytest.param(B32_32 + "=====", id="padding-too-long"),
    pytest.param(B32_64 + "==", id="padding-two-for-one"),
    pytest.param("GEZA" + "=" * 12, id="padding-extra-block"),
    pytest.param(B32_20 + "=" * 8, id="padding-on-full-block"),
    pytest.param("GEZA====GEZA====", id="padding-inside"),
    pytest.param("=" + B32_20, id="padding-leading"),
    pytest.param(B32_32[:-1] + "B", id="non-canonical-trailing-bits"),
    pytest.param(B32_19[:-1] + "Z", id="non-canonical-31"),
    pytest.param("GEZDGNBVGY3TQOJQ\x00", id="nul"),
    pytest.param("\uff27\uff25\uff3a\uff24\uff27\uff2e\uff22\uff36", id="full-width"),
    pytest.param(B32_15.replace("I", "\u0131"), id="dotless-i-uppercases-to-I"),
    pytest.param("\u017f" * 8, id="long-s-uppercases-to-S"),
    pytest.param("\u00df" * 4, id="sharp-s-uppercases-to-SS"),
    pytest.param("GEZDGNB\u212a", id="kelvin-sign"),
    pytest.param(None, id="none"),
    pytest.param(b"GEZDGNBVGY3TQOJQ", id="bytes"),
    pytest.param(1234, id="int"),
    pytest.param([B32_20], id="list"),
]


@pytest.mark.parametrize("text", REJECTED)
def test_b32decode_rejects(text: object) -> None:
    with pytest.raises(InvalidInput) as info:
        b32decode_strict(text, "passcode32")
    assert info.value.field == "passcode32"
    if isinstance(text, str) and len(text.strip("=")) >= 4:
        for shown in (str(info.value), repr(info.value), *map(str, info.value.args)):
            assert text not in shown
            assert text.strip("=").upper() not in shown


def test_b32decode_rejects_one_mebibyte_quickly() -> None:
    huge = "A" * 2**20  # a valid encoding of 640 KiB of zeros
    started = time.perf_counter()
    for _ in range(10):
        with pytest.raises(InvalidInput) as info:
            b32decode_strict(huge)
        assert huge[:64] not in str(info.value)
    assert time.perf_counter() - started < 1.0


@given(st.binary(min_size=1, max_size=200))
def test_b32_round_trip(raw: bytes) -> None:
    encoded = b32encode(SecretBytes(raw))
    assert "=" not in encoded
    assert encoded == base64.b32encode(raw).decode().rstrip("=")
    assert b32decode_strict(encoded).reveal() == raw
    assert b32decode_strict(encoded.lower()).reveal() == raw
    assert b32decode_strict(base64.b32encode(raw).decode()).reveal() == raw


# --- build_uri ---------------------------------------------------------------------------


def _uri(
    *,
    secret: bytes = SEED20,
    prefix: str = "Sbox",
    account: str = "admin@telco.com",
    issuer: str = "telco.com",
    params: OtpParams | None = None,
) -> str:
    return build_uri(
        secret=SecretBytes(secret),
        label_prefix=prefix,
        account_name=account,
        issuer=issuer,
        params=params or OtpParams(),
    )


def test_build_uri_reproduces_the_strongbox_sample() -> None:
    secret = b32decode_strict("34XVZAVKQ7PRBE3KJQWHYKC3EAT75I2X")
    uri = build_uri(
        secret=secret,
        label_prefix="Sbox",
        account_name="admin@telco.com",
        issuer="telco.com",
        params=OtpParams(),
    )
    assert uri == (
        "otpauth://totp/Sbox:admin@telco.com"
        "?secret=34XVZAVKQ7PRBE3KJQWHYKC3EAT75I2X&issuer=telco.com"
    )


def test_build_uri_secret_is_unpadded_base32() -> None:
    uri = _uri(secret=SEED32)
    assert f"secret={B32_32}&" in uri
    assert "=" not in uri.split("secret=", 1)[1].split("&", 1)[0]


@pytest.mark.parametrize(
    ("params", "suffix"),
    [
        (OtpParams(), ""),
        (OtpParams(skew=3), ""),
        (OtpParams(algorithm=Algorithm.SHA256), "&algorithm=SHA256"),
        (OtpParams(algorithm=Algorithm.SHA224), "&algorithm=SHA224"),
        (OtpParams(algorithm=Algorithm.SHA384), "&algorithm=SHA384"),
        (OtpParams(algorithm=Algorithm.SHA512), "&algorithm=SHA512"),
        (OtpParams(digits=8), "&digits=8"),
        (OtpParams(digits=10), "&digits=10"),
        (OtpParams(period=60), "&period=60"),
        (OtpParams(period=1), "&period=1"),
        (
            OtpParams(algorithm=Algorithm.SHA512, digits=7, period=45),
            "&algorithm=SHA512&digits=7&period=45",
        ),
    ],
)
def test_build_uri_appends_non_default_params(params: OtpParams, suffix: str) -> None:
    base = f"otpauth://totp/Sbox:admin@telco.com?secret={B32_20}&issuer=telco.com"
    assert _uri(params=params) == base + suffix


ENCODED = [
    ("a b", "a%20b"),
    ("a&b", "a%26b"),
    ("a#b", "a%23b"),
    ("a+b", "a%2Bb"),
    ("a/b", "a%2Fb"),
    ("a?b", "a%3Fb"),
    ("a%b", "a%25b"),
    ("a=b", "a%3Db"),
    ("a;b", "a%3Bb"),
    ("a@b", "a@b"),
    ("caf\u00e9", "caf%C3%A9"),  # NFC
    ("cafe\u0301", "cafe%CC%81"),  # NFD
    ("stra\u00dfe", "stra%C3%9Fe"),
    ("\u65e5\u672c", "%E6%97%A5%E6%9C%AC"),
    ("key\U0001f511", "key%F0%9F%94%91"),
    ("rtl\u202eoverride", "rtl%E2%80%AEoverride"),
    ("zw\u200dj", "zw%E2%80%8Dj"),
]


@pytest.mark.parametrize(("raw", "encoded"), ENCODED)
def test_build_uri_percent_encodes_issuer_and_account(raw: str, encoded: str) -> None:
    uri = _uri(prefix=raw, account=raw, issuer=raw)
    assert uri == f"otpauth://totp/{encoded}:{encoded}?secret={B32_20}&issuer={encoded}"
    assert uri.isascii()
    assert " " not in uri
    assert uri.count("?") == 1
    assert "#" not in uri


def test_build_uri_issuer_cannot_inject_parameters() -> None:
    uri = _uri(issuer="x&secret=AAAAAAAAAAAAAAAA&digits=8", account="a?secret=BBBB#frag")
    keys = [pair.split("=", 1)[0] for pair in urlsplit(uri).query.split("&")]
    assert keys == ["secret", "issuer"]
    parsed = parse_uri(uri)
    assert parsed.secret.reveal() == SEED20
    assert parsed.params.digits == 6
    assert parsed.issuer == "x&secret=AAAAAAAAAAAAAAAA&digits=8"
    assert parsed.account_name == "a?secret=BBBB#frag"


# --- CredentialSpec guards what reaches build_uri ----------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "a:b",
        ":",
        "a\x00b",
        "a\nb",
        "a\rb",
        "a\tb",
        "a\x7fb",
        "a\x85b",  # NEL, a C1 control: a line break to some log readers
        "a\x9b31mb",  # CSI, the 8-bit ANSI escape introducer
        "",
        "x" * 257,
        "\ud800",  # a lone surrogate, e.g. from JSON "\ud800": no UTF-8 encoding exists
        "a\udfffb",
    ],
)
@pytest.mark.parametrize("field", ["issuer", "account_name"])
def test_credential_spec_rejects_issuer_and_account(field: str, bad: str) -> None:
    with pytest.raises(InvalidInput):
        CredentialSpec(name="bob", **{field: bad})  # type: ignore[arg-type]


# --- round trip through parse_uri, and pyotp as a second decoder -------------------

LABEL_TEXT = st.text(
    st.characters(exclude_categories=("Cs", "Cc", "Cf", "Zl", "Zp"), exclude_characters=":"),
    min_size=1,
    max_size=30,
)
# Key Uri Format: "optional spaces may precede the account name", so a decoder strips them;
# the model therefore refuses issuers and account names that start or end with whitespace.
ACCOUNT_TEXT = LABEL_TEXT.filter(lambda s: s == s.strip())
PARAMS = st.builds(
    OtpParams,
    algorithm=st.sampled_from(Algorithm),
    digits=st.integers(6, 10),
    period=st.integers(1, MAX_PERIOD),
)


@settings(max_examples=400)
@given(
    secret=st.binary(min_size=10, max_size=64),
    prefix=LABEL_TEXT,
    account=ACCOUNT_TEXT,
    issuer=ACCOUNT_TEXT,
    params=PARAMS,
)
def test_uri_round_trip(
    secret: bytes, prefix: str, account: str, issuer: str, params: OtpParams
) -> None:
    CredentialSpec(name="bob", issuer=issuer, account_name=account)  # a spec accepts them
    uri = _uri(secret=secret, prefix=prefix, account=account, issuer=issuer, params=params)
    assert uri.isascii()
    assert " " not in uri
    parsed = parse_uri(uri)
    assert parsed.secret.reveal() == secret
    assert parsed.label_prefix == prefix
    assert parsed.account_name == account
    assert parsed.issuer == issuer
    assert (parsed.params.algorithm, parsed.params.digits, parsed.params.period) == (
        params.algorithm,
        params.digits,
        params.period,
    )


PYOTP_ALGORITHMS = {Algorithm.SHA1: "sha1", Algorithm.SHA256: "sha256", Algorithm.SHA512: "sha512"}


@settings(max_examples=200)
@given(
    secret=st.binary(min_size=16, max_size=64),
    account=ACCOUNT_TEXT,
    issuer=ACCOUNT_TEXT,
    algorithm=st.sampled_from(list(PYOTP_ALGORITHMS)),
    digits=st.integers(6, 8),
    period=st.integers(1, 120),  # pyotp's own limit
)
def test_pyotp_decodes_our_uri(
    secret: bytes, account: str, issuer: str, algorithm: Algorithm, digits: int, period: int
) -> None:
    params = OtpParams(algorithm=algorithm, digits=digits, period=period)
    uri = _uri(secret=secret, prefix=issuer, account=account, issuer=issuer, params=params)
    decoded = pyotp.parse_uri(uri)
    assert isinstance(decoded, pyotp.TOTP)
    assert decoded.byte_secret() == secret
    assert decoded.name == account
    assert decoded.issuer == issuer
    assert decoded.digits == digits
    assert decoded.interval == period
    assert decoded.digest().name == PYOTP_ALGORITHMS[algorithm]


def test_pyotp_refuses_the_strongbox_shape() -> None:
    """docs/requirements.md: prefix Sbox with issuer telco.com is refused by pyotp; ours parses
    it."""
    uri = _uri()
    with pytest.raises(ValueError, match="issuer"):
        pyotp.parse_uri(uri)
    parsed = parse_uri(uri)
    assert (parsed.label_prefix, parsed.account_name, parsed.issuer) == (
        "Sbox",
        "admin@telco.com",
        "telco.com",
    )


# --- parse_uri refusals ------------------------------------------------------------------

GOOD = f"otpauth://totp/Sbox:a?secret={B32_20}&issuer=x"


@pytest.mark.parametrize(
    "uri",
    [
        f"https://totp/Sbox:a?secret={B32_20}",
        f"otpauth://hotp/Sbox:a?secret={B32_20}&counter=0",
        "otpauth://totp/Sbox:a?issuer=x",
        f"otpauth://totp/Sbox:a?secret={B32_20}&secret={B32_20}",
        f"otpauth://totp/Sbox:a?secret={B32_20}&issuer=x&issuer=y",
        f"otpauth://totp/Sbox:a?secret={B32_20}%20",
        f"otpauth://totp/Sbox:a?secret={B32_20[:-1]}",
        "otpauth://totp/Sbox:a?secret=",
        GOOD + "&algorithm=MD5",
        GOOD + "&digits=5",
        GOOD + "&digits=11",
        GOOD + "&digits=six",
        GOOD + "&period=0",
        GOOD + "&period=-30",
        GOOD + "&period=30s",
    ],
)
def test_parse_uri_rejects(uri: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_uri(uri)
    assert B32_20 not in str(info.value)
    assert B32_20[:-1] not in str(info.value)


def test_parse_uri_accepts_encoded_colon_and_spaces_before_account() -> None:
    parsed = parse_uri(f"otpauth://totp/Big%20Corp%3A%20%20alice%40bigco.com?secret={B32_20}")
    assert parsed.label_prefix == "Big Corp"
    assert parsed.account_name == "alice@bigco.com"
    assert parsed.issuer is None
    assert parsed.params == OtpParams()
