"""The suite's credentials and the request files of each path (bench/suite.py).

Only otpd's outer interfaces are used: the otpauth import format, the three HTTP APIs and
/healthz; codes come from a local RFC 6238 implementation, so nothing here imports otpd.

Credential i is named `u%07d`, has the secret `secret_for(i)` and a **1 s period**: each user
then has a fresh code every second, so 1,000 users carry a valid-code run at 1,000 requests/s
without replays. The work of a verification (lookup, unseal, HMACs over the skew window, the
write) does not depend on the period.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.suite_load import Line

__all__ = [
    "PERIOD",
    "TENANT",
    "Path_",
    "Users",
    "otpauth_file",
    "secret_for",
    "totp",
    "user_name",
]

TENANT = "bench"
PERIOD = 1
_SEED = b"otpd-bench-suite"
JSON = "Content-Type: application/json"


def secret_for(index: int) -> bytes:
    """User `index`'s 20-byte secret, recomputed instead of kept (a million would cost RAM)."""
    return hashlib.blake2b(index.to_bytes(8, "big"), key=_SEED, digest_size=20).digest()


def user_name(index: int) -> str:
    return f"u{index:07d}"


def totp(secret: bytes, now: int, period: int = PERIOD) -> str:
    """RFC 6238 §4 with HMAC-SHA1, 6 digits (RFC 4226 §5.3 dynamic truncation)."""
    digest = hmac.digest(secret, struct.pack(">Q", now // period), "sha1")
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def wrong_code(secret: bytes, now: int) -> str:
    """A code matching no step of a skew-1 window around `now`, nor the next second's."""
    window = {totp(secret, now + d) for d in (-1, 0, 1, 2)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in window)


def otpauth_file(path: Path, first: int, last: int) -> None:
    """Users first..last as otpauth:// lines (`otpd import --format otpauth`)."""
    with path.open("w") as out:
        for i in range(first, last + 1):
            secret = base64.b32encode(secret_for(i)).decode().rstrip("=")
            name = user_name(i)
            out.write(
                f"otpauth://totp/{TENANT}:{name}?secret={secret}&issuer={TENANT}&period={PERIOD}\n"
            )


@dataclass
class Users:
    """The imported users and their Token2 ids: each import is a run of consecutive ids that
    starts one after the id a Token2 createuser probe got just before it."""

    count: int = 0
    runs: list[tuple[int, int]] = field(default_factory=list)  # (first index, its id)

    def add(self, count: int, probe_id: int) -> None:
        self.runs.append((self.count + 1, probe_id + 1))
        self.count += count

    def id_of(self, index: int) -> int:
        first, first_id = max(r for r in self.runs if r[0] <= index)
        return first_id + index - first

    def pool(self, size: int, seed: int) -> list[int]:
        """`size` distinct users (all when there are fewer), spread over all of them."""
        rng = random.Random(seed)
        if size >= self.count:
            chosen = list(range(1, self.count + 1))
            rng.shuffle(chosen)
            return chosen
        return rng.sample(range(1, self.count + 1), size)


@dataclass(frozen=True)
class Path_:
    """One measured path: how its requests are made and which answer is the expected one."""

    name: str
    status: int = 200
    needle: str = ""  # text the expected answer's body contains
    headers: tuple[str, ...] = ()
    stepped: bool = False  # requests tied to a second (codes)


def stepped_lines(
    users: Sequence[int], first_step: int, steps: int, per_step: int, make: Maker
) -> Iterator[Line]:
    """`per_step` users per second for `steps` seconds, going round the users so that a user
    comes back as late as possible (never within one second when there are enough)."""
    per_step = min(per_step, len(users))
    turn = 0
    for step in range(first_step, first_step + steps):
        for _ in range(per_step):
            yield make(step, users[turn % len(users)])
            turn += 1


class Maker:
    """Builds one path's request line for (second, user)."""

    def __init__(self, kind: str, users: Users, key: str, valid: bool) -> None:
        self.kind, self.users, self.key, self.valid = kind, users, key, valid

    def __call__(self, step: int, index: int) -> Line:
        secret = secret_for(index)
        code = totp(secret, step) if self.valid else wrong_code(secret, step)
        name = user_name(index)
        if self.kind == "token2":
            query = f"api_key={self.key}&userid={self.users.id_of(index)}&token={code}&format=1"
            return Line(step, "GET", f"/validate?{query}")
        if self.kind == "phenixid":
            body = f'{{"username":"{name}","otp":"{code}"}}'
            return Line(step, "PUT", "/api/authentication/otp_token_auth", body)
        body = f'{{"code":"{code}"}}'
        return Line(step, "POST", f"/v1/state/strongbox/totp/{name}/verify-code", body)


def verify_paths(key: str, bearer: str, basic: str) -> list[tuple[Path_, str, bool]]:
    """The six verification paths: (path, kind, valid code?)."""
    sb = (f"Authorization: Bearer {bearer}", JSON)
    px = (f"Authorization: Basic {basic}", JSON, f"tenant: {TENANT}")
    return [
        (Path_("token2 validate valid", 200, '"validation":"true"', (), True), "token2", True),
        (Path_("token2 validate wrong", 200, '"validation":"false"', (), True), "token2", False),
        (Path_("phenixid put valid", 200, "", px, True), "phenixid", True),
        (Path_("phenixid put wrong", 403, "", px, True), "phenixid", False),
        (Path_("strongbox verify valid", 200, "true", sb, True), "strongbox", True),
        (Path_("strongbox verify wrong", 200, "false", sb, True), "strongbox", False),
    ]  # fmt: skip


def create_paths(
    key: str, bearer: str, tag: str, users: Sequence[int], count: int
) -> list[tuple[Path_, list[Line]]]:
    """Strongbox create (fresh names), Strongbox get-qr-code (existing users, round-robin) and
    Token2 createuser (otpd names the user), with their request lines."""
    sb = (f"Authorization: Bearer {bearer}", JSON)
    create = [
        Line(0, "POST", "/v1/config/strongbox/totp", f'{{"name":"sb-{tag}-{k}"}}')
        for k in range(count)
    ]
    qr = [Line(0, "POST", f"/v1/state/strongbox/totp/{user_name(i)}/get-qr-code") for i in users]
    createuser = [Line(0, "GET", f"/createuser?api_key={key}&phone=41791234567&format=1")]
    return [
        (Path_("strongbox create", 201, "", sb), create),
        (Path_("strongbox get-qr-code", 200, "qr-code", sb), qr),
        (Path_("token2 createuser", 200, '"success":"true"'), createuser),
    ]
