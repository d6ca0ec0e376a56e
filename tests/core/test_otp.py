"""HOTP/TOTP against the RFC tables (
docs/requirements.md#rfc-exact, #parameters)."""

from __future__ import annotations

import time
import types

import pytest

from otpd.core import otp
from otpd.core.model import Algorithm
from otpd.core.otp import MAX_COUNTER, hotp, hotp_codes, totp, totp_step
from tests.support.fakes import ref_hotp, ref_totp

# RFC 6238 Appendix A seeds (the Appendix B prose names only the first).
SEED20 = bytes.fromhex("3132333435363738393031323334353637383930")
SEED32 = bytes.fromhex("3132333435363738393031323334353637383930" + "313233343536373839303132")
SEED64 = bytes.fromhex(
    "3132333435363738393031323334353637383930"
    + "3132333435363738393031323334353637383930"
    + "3132333435363738393031323334353637383930"
    + "31323334"
)
SEED_FOR = {Algorithm.SHA1: SEED20, Algorithm.SHA256: SEED32, Algorithm.SHA512: SEED64}


def test_seeds_are_the_ascii_strings() -> None:
    assert SEED20 == b"12345678901234567890"
    assert SEED32 == b"12345678901234567890123456789012"
    assert SEED64 == b"1234567890123456789012345678901234567890123456789012345678901234"


def test_time_zone_fixture_is_in_effect(time_zone: str) -> None:
    expected = {"UTC": 0, "America/St_Johns": 12600}[time_zone]
    assert time.timezone == expected


# --- RFC 4226 Appendix D ----------------------------------------------------------------

# Count, truncated (hex), truncated (decimal), HOTP: Table 2, verbatim.
RFC4226_TABLE_2 = [
    (0, "4c93cf18", 1284755224, "755224"),
    (1, "41397eea", 1094287082, "287082"),
    (2, "82fef30", 137359152, "359152"),
    (3, "66ef7655", 1726969429, "969429"),
    (4, "61c5938a", 1640338314, "338314"),
    (5, "33c083d4", 868254676, "254676"),
    (6, "7256c032", 1918287922, "287922"),
    (7, "4e5b397", 82162583, "162583"),
    (8, "2823443f", 673399871, "399871"),
    (9, "2679dc69", 645520489, "520489"),
]


@pytest.mark.parametrize(("count", "trunc_hex", "trunc_dec", "code"), RFC4226_TABLE_2)
def test_rfc4226_appendix_d(count: int, trunc_hex: str, trunc_dec: int, code: str) -> None:
    assert int(trunc_hex, 16) == trunc_dec  # the table is self-consistent
    assert hotp(SEED20, count) == code
    assert hotp(SEED20, count, 6, Algorithm.SHA1) == code
    # With 10 digits nothing is cut off (the value is < 2^31), so the whole dynamic
    # truncation result of Table 2 shows, zero-padded: this checks the truncation itself.
    assert hotp(SEED20, count, 10) == f"{trunc_dec:010d}"


def test_rfc4226_section_5_4_worked_example(monkeypatch: pytest.MonkeyPatch) -> None:
    """§5.4 works one HMAC result by hand: offset 0xa, 0x50ef7f19, HOTP 872921."""
    mac = bytes.fromhex("1f8698690e02ca16618550ef7f19da8e945b555a")

    class FixedMac:
        def digest(self) -> bytes:
            return mac

    fake_hmac = types.SimpleNamespace(new=lambda *args, **kwargs: FixedMac())
    monkeypatch.setattr(otp, "hmac", fake_hmac)
    assert hotp(b"any key at all", 0) == "872921"
    assert hotp(b"any key at all", 0, 10) == f"{0x50EF7F19:010d}"


# --- RFC 6238 Appendix B ----------------------------------------------------------------

RFC6238_TABLE_1 = [
    (59, "0000000000000001", "94287082", Algorithm.SHA1),
    (59, "0000000000000001", "46119246", Algorithm.SHA256),
    (59, "0000000000000001", "90693936", Algorithm.SHA512),
    (1111111109, "00000000023523EC", "07081804", Algorithm.SHA1),
    (1111111109, "00000000023523EC", "68084774", Algorithm.SHA256),
    (1111111109, "00000000023523EC", "25091201", Algorithm.SHA512),
    (1111111111, "00000000023523ED", "14050471", Algorithm.SHA1),
    (1111111111, "00000000023523ED", "67062674", Algorithm.SHA256),
    (1111111111, "00000000023523ED", "99943326", Algorithm.SHA512),
    (1234567890, "000000000273EF07", "89005924", Algorithm.SHA1),
    (1234567890, "000000000273EF07", "91819424", Algorithm.SHA256),
    (1234567890, "000000000273EF07", "93441116", Algorithm.SHA512),
    (2000000000, "0000000003F940AA", "69279037", Algorithm.SHA1),
    (2000000000, "0000000003F940AA", "90698825", Algorithm.SHA256),
    (2000000000, "0000000003F940AA", "38618901", Algorithm.SHA512),
    (20000000000, "0000000027BC86AA", "65353130", Algorithm.SHA1),
    (20000000000, "0000000027BC86AA", "77737706", Algorithm.SHA256),
    (20000000000, "0000000027BC86AA", "47863826", Algorithm.SHA512),
]


@pytest.mark.parametrize(("now", "step_hex", "code", "algorithm"), RFC6238_TABLE_1)
def test_rfc6238_appendix_b(now: int, step_hex: str, code: str, algorithm: Algorithm) -> None:
    seed = SEED_FOR[algorithm]
    assert totp_step(now, 30) == int(step_hex, 16)
    assert totp(seed, now, 30, 8, algorithm) == code
    assert hotp(seed, int(step_hex, 16), 8, algorithm) == code


@pytest.mark.parametrize(("now", "step_hex", "code", "algorithm"), RFC6238_TABLE_1)
def test_rfc6238_six_digit_forms(now: int, step_hex: str, code: str, algorithm: Algorithm) -> None:
    assert totp(SEED_FOR[algorithm], now, 30, 6, algorithm) == code[-6:]


def test_six_digit_sha1_at_59_equals_hotp_counter_1() -> None:
    assert totp(SEED20, 59) == "287082" == hotp(SEED20, 1)


# Negative control: the 20-byte seed used as given (not padded to 32/64 bytes) with SHA256/SHA512
# gives these codes, not the RFC table's, which use the longer Appendix A seeds.
NEGATIVE_CONTROL = [
    (59, "32247374", "69342147"),
    (1111111109, "34756375", "63049338"),
    (1111111111, "74584430", "54380122"),
    (1234567890, "42829826", "76671578"),
    (2000000000, "78428693", "56464532"),
    (20000000000, "24142410", "69481994"),
]


@pytest.mark.parametrize(("now", "sha256_code", "sha512_code"), NEGATIVE_CONTROL)
def test_negative_control_key_used_as_given(now: int, sha256_code: str, sha512_code: str) -> None:
    assert totp(SEED20, now, 30, 8, Algorithm.SHA256) == sha256_code
    assert totp(SEED20, now, 30, 8, Algorithm.SHA512) == sha512_code
    # ... and therefore not the Appendix B codes, which need the longer seeds
    # (docs/requirements.md#rfc-exact).
    appendix_b = {(t, alg): c for t, _, c, alg in RFC6238_TABLE_1}
    assert sha256_code != appendix_b[(now, Algorithm.SHA256)]
    assert sha512_code != appendix_b[(now, Algorithm.SHA512)]


# --- SHA224 / SHA384 against Python hmac (oathtool has neither) --------------------------

TIMES = [59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000]


@pytest.mark.parametrize("algorithm", [Algorithm.SHA224, Algorithm.SHA384])
@pytest.mark.parametrize("seed", [SEED20, SEED32, SEED64], ids=["seed20", "seed32", "seed64"])
@pytest.mark.parametrize("digits", [6, 8, 10])
def test_sha224_sha384_against_python_hmac(algorithm: Algorithm, seed: bytes, digits: int) -> None:
    for now in TIMES:
        assert totp(seed, now, 30, digits, algorithm) == ref_totp(
            seed, now, 30, digits, algorithm.value
        )


def test_every_algorithm_differs() -> None:
    codes = {totp(SEED64, 59, 30, 8, algorithm) for algorithm in Algorithm}
    assert len(codes) == len(Algorithm)


# --- 64-bit times and counters (docs/requirements.md#rfc-exact); values from oathtool 2.6.7
# ---------------------

BIG_TIMES = [
    (2**31, Algorithm.SHA1, "24703886"),
    (2**31, Algorithm.SHA256, "68493486"),
    (2**31, Algorithm.SHA512, "44067341"),
    (2**32, Algorithm.SHA1, "59791428"),
    (2**32, Algorithm.SHA256, "77645532"),
    (2**32, Algorithm.SHA512, "92399846"),
    (20000000000, Algorithm.SHA1, "65353130"),
    (20000000000, Algorithm.SHA256, "77737706"),
    (20000000000, Algorithm.SHA512, "47863826"),
]


@pytest.mark.parametrize(("now", "algorithm", "code"), BIG_TIMES)
def test_64_bit_times(now: int, algorithm: Algorithm, code: str) -> None:
    assert totp(SEED_FOR[algorithm], now, 30, 8, algorithm) == code


BIG_COUNTERS = [
    (2**32, "999456", "55999456"),
    (2**64 - 2, "488204", "89488204"),
    (2**64 - 1, "094451", "63094451"),
]


@pytest.mark.parametrize(("counter", "code6", "code8"), BIG_COUNTERS)
def test_64_bit_counters(counter: int, code6: str, code8: str) -> None:
    assert hotp(SEED20, counter) == code6
    assert hotp(SEED20, counter, 8) == code8
    assert hotp(SEED20, counter, 8) == ref_hotp(SEED20, counter, 8)


def test_max_counter_is_2_to_the_64_minus_1() -> None:
    assert MAX_COUNTER == 2**64 - 1


@pytest.mark.parametrize("counter", [2**64, 2**64 + 1, 2**100, -1, -(2**63)])
def test_counter_outside_64_bits_raises(counter: int) -> None:
    with pytest.raises(ValueError, match="counter"):
        hotp(SEED20, counter)


def test_time_before_epoch_raises() -> None:
    with pytest.raises(ValueError, match="counter"):
        totp(SEED20, -1)


# --- digits, periods ---------------------------------------------------------------------


@pytest.mark.parametrize("digits", [6, 7, 8, 9, 10])
@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_digits_6_to_10(digits: int, algorithm: Algorithm) -> None:
    for counter in (0, 1, 7, 1234, 2**40):
        code = hotp(SEED64, counter, digits, algorithm)
        assert len(code) == digits
        assert code.isascii()
        assert code.isdigit()
        assert code == ref_hotp(SEED64, counter, digits, algorithm.value)


def test_leading_zeros_kept() -> None:
    # RFC 6238 row 1111111109/SHA1 starts with 0; HOTP counter 2^64-1 (6 digits) too.
    assert totp(SEED20, 1111111109, 30, 8) == "07081804"
    assert hotp(SEED20, 2**64 - 1) == "094451"


def test_period_1_works() -> None:
    for now in (0, 1, 59, 2**32 + 5):
        assert totp_step(now, 1) == now
        assert totp(SEED20, now, 1) == hotp(SEED20, now)
        assert totp(SEED20, now, 1) == ref_hotp(SEED20, now)


@pytest.mark.parametrize("period", [0, -1, -30])
def test_period_below_1_raises(period: int) -> None:
    with pytest.raises(ValueError, match="period"):
        totp_step(1000, period)
    with pytest.raises(ValueError, match="period"):
        totp(SEED20, 1000, period)


@pytest.mark.parametrize(
    ("now", "period", "step"),
    [
        (0, 30, 0),
        (29, 30, 0),
        (30, 30, 1),
        (59, 30, 1),
        (60, 30, 2),
        (119, 60, 1),
        (120, 60, 2),
        (2**32 - 1, 30, 143165576),
        (20000000000, 30, 0x27BC86AA),
        (20000000000, 7, 2857142857),
    ],
)
def test_totp_step_is_floor_division(now: int, period: int, step: int) -> None:
    assert totp_step(now, period) == step


def test_t0_shifts_the_steps() -> None:
    assert totp_step(100, 30, t0=10) == 3
    assert totp_step(99, 30, t0=10) == 2


@pytest.mark.parametrize("algorithm", list(Algorithm))
@pytest.mark.parametrize("digits", [6, 8, 10])
def test_hotp_codes_equals_hotp(algorithm: Algorithm, digits: int) -> None:
    counters = range(1234560, 1234600)
    assert hotp_codes(SEED32, counters, digits, algorithm) == [
        (c, hotp(SEED32, c, digits, algorithm)) for c in counters
    ]


def test_hotp_codes_skips_counters_outside_64_bits() -> None:
    near_top = range(2**64 - 2, 2**64 + 2)
    assert hotp_codes(SEED20, near_top, 6, Algorithm.SHA1) == [
        (2**64 - 2, "488204"),
        (2**64 - 1, "094451"),
    ]
    assert hotp_codes(SEED20, range(-2, 2), 6, Algorithm.SHA1) == [
        (0, "755224"),
        (1, "287082"),
    ]


def test_secret_is_not_padded_or_truncated() -> None:
    """docs/requirements.md#rfc-exact: keys shorter or longer than the block are used as given,
    never normalised."""
    short = SEED20[:10]
    assert hotp(short, 0) == ref_hotp(short, 0)
    # (Zero-padding is invisible: HMAC itself pads the key with zeros. Repeating the key up
    # to the "standard" 20/32/64 bytes, as some implementations do, is not.)
    assert hotp(short, 0) != hotp(short * 2, 0)
    assert totp(SEED20, 59, 30, 8, Algorithm.SHA256) != totp(
        SEED20 * 2, 59, 30, 8, Algorithm.SHA256
    )
    long_key = bytes(range(256)) * 2  # longer than any HMAC block: hashed first by HMAC
    assert hotp(long_key, 5, 8, Algorithm.SHA512) == ref_hotp(long_key, 5, 8, "sha512")
