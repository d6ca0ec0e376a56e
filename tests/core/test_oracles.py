"""Independent oracles: oathtool (any secret length) and pyotp (secrets >= 16 bytes).

Nothing here is skipped: CI installs Debian's `oathtool`, and a missing one must fail the run.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import random
import shutil
import subprocess

import pyotp
import pytest

from otpd.core.model import Algorithm
from otpd.core.otp import hotp, totp

OATHTOOL_ALGORITHMS = [Algorithm.SHA1, Algorithm.SHA256, Algorithm.SHA512]


def _random_time(rng: random.Random) -> int:
    """Times spread over the whole range, with a third beyond 2^32 s (year 2106)."""
    kind = rng.randrange(3)
    if kind == 0:
        return rng.randrange(0, 2**31)
    if kind == 1:
        return rng.randrange(2**31, 2**32)
    return rng.randrange(2**32, 20000000000 + 1)


def _totp_samples(n: int, seed: int, min_secret: int) -> list[tuple[str, Algorithm, int, int, int]]:
    rng = random.Random(seed)
    samples = []
    for _ in range(n):
        secret = rng.randbytes(rng.randint(min_secret, 64)).hex()
        samples.append(
            (
                secret,
                rng.choice(OATHTOOL_ALGORITHMS),
                rng.randint(6, 8),
                rng.randint(1, 120),
                _random_time(rng),
            )
        )
    return samples


def _hotp_samples(n: int, seed: int) -> list[tuple[str, int, int]]:
    rng = random.Random(seed)
    counters = [0, 1, 2**31, 2**32, 2**63, 2**64 - 2, 2**64 - 1]
    counters += [rng.randrange(2**64) for _ in range(n - len(counters))]
    return [(rng.randbytes(rng.randint(10, 64)).hex(), c, rng.randint(6, 8)) for c in counters]


def _oathtool(*args: str) -> str:
    exe = shutil.which("oathtool")
    assert exe is not None, "oathtool is required (Debian package oathtool); CI installs it"
    result = subprocess.run([exe, *args], capture_output=True, text=True, timeout=10, check=True)
    return result.stdout.strip()


def test_samples_cover_short_secrets_and_big_times() -> None:
    samples = _totp_samples(60, 4226, 10)
    assert min(len(s) // 2 for s, *_ in samples) < 16  # pyotp cannot check these
    assert sum(t > 2**32 for *_, t in samples) >= 10
    assert {a for _, a, *_ in samples} == set(OATHTOOL_ALGORITHMS)
    assert {d for _, _, d, *_ in samples} == {6, 7, 8}


@pytest.mark.parametrize(
    ("secret_hex", "algorithm", "digits", "period", "now"), _totp_samples(60, 4226, 10)
)
def test_totp_matches_oathtool(
    secret_hex: str, algorithm: Algorithm, digits: int, period: int, now: int
) -> None:
    expected = _oathtool(
        f"--totp={algorithm.value}", "-d", str(digits), "-s", f"{period}s", "-N", f"@{now}",
        secret_hex,
    )  # fmt: skip
    assert totp(bytes.fromhex(secret_hex), now, period, digits, algorithm) == expected


@pytest.mark.parametrize(("secret_hex", "counter", "digits"), _hotp_samples(20, 6238))
def test_hotp_matches_oathtool(secret_hex: str, counter: int, digits: int) -> None:
    expected = _oathtool("-d", str(digits), "-c", str(counter), secret_hex)
    assert hotp(bytes.fromhex(secret_hex), counter, digits) == expected


def test_oathtool_window_matches_consecutive_steps() -> None:
    """One oathtool call with -w lists the following steps too: a run of 20 periods."""
    secret = bytes(range(1, 33))
    now = 2**32 + 17
    expected = _oathtool(
        "--totp=sha256", "-d", "8", "-s", "45s", "-w", "19", "-N", f"@{now}", secret.hex()
    ).split()
    assert len(expected) == 20
    ours = [totp(secret, now + 45 * i, 45, 8, Algorithm.SHA256) for i in range(20)]
    assert ours == expected


PYOTP_DIGEST = {
    Algorithm.SHA1: hashlib.sha1,
    Algorithm.SHA256: hashlib.sha256,
    Algorithm.SHA512: hashlib.sha512,
}


@pytest.mark.parametrize(
    ("secret_hex", "algorithm", "digits", "period", "now"), _totp_samples(60, 6238, 16)
)
def test_totp_matches_pyotp(
    secret_hex: str, algorithm: Algorithm, digits: int, period: int, now: int
) -> None:
    secret = bytes.fromhex(secret_hex)
    oracle = pyotp.TOTP(
        base64.b32encode(secret).decode(),
        digits=digits,
        digest=PYOTP_DIGEST[algorithm],
        interval=period,
    )
    expected = oracle.at(datetime.datetime.fromtimestamp(now, tz=datetime.UTC))
    assert totp(secret, now, period, digits, algorithm) == expected


@pytest.mark.parametrize("algorithm", list(PYOTP_DIGEST))
@pytest.mark.parametrize("digits", [6, 7, 8, 9, 10])
def test_hotp_matches_pyotp(algorithm: Algorithm, digits: int) -> None:
    rng = random.Random(digits)
    secret = rng.randbytes(32)
    oracle = pyotp.HOTP(
        base64.b32encode(secret).decode(), digits=digits, digest=PYOTP_DIGEST[algorithm]
    )
    for counter in [0, 1, 2**32, 2**64 - 1, *(rng.randrange(2**64) for _ in range(10))]:
        assert hotp(secret, counter, digits, algorithm) == oracle.at(counter)
