"""Strongbox TOTP API over real HTTP: create, verify-code (valid and wrong codes) and get-code,
as ratios against GET /healthz measured in the same rounds.

Starts `otpd serve` on a free port with a fresh data directory (as a subprocess, log level
warning, OTPD_THROTTLE_FREE_FAILURES=100: bench.http_bench.served_client), creates an API
client of scopes read,write,verify,code with the CLI, logs in once over POST /v1/login (the
bearer goes on every request), then runs a warm-up round of 50 requests per scenario
(discarded) and `--rounds` rounds; each round runs, with one keep-alive HTTP client and one
request at a time, `--requests` requests of each scenario:

  healthz           GET /healthz: the floor (HTTP, middleware, routing, a JSON body)
  create-generated  POST /v1/config/strongbox/totp {"name"}: bearer check, body parse, 20
                    random bytes sealed with AES-GCM, the insert (one commit)
  create-imported   the same with "passcode32" (a known 20-byte secret in Base32): the secret
                    is decoded and checked instead of generated
  verify-valid      POST .../totp/{name}/verify-code with the current code of a credential
                    imported this round, each once (codes from otpd.core.otp.totp): lookup,
                    unseal, 3 HMACs, advance() (one commit); answers `true`
  verify-wrong      the same with a wrong code, round-robin over all imported credentials
                    (a cursor that carries on from round to round): the same work and a
                    failure write (one commit); answers `false`, no credential near throttling
  get-code          POST .../totp/{name}/get-code, round-robin over the imported credentials:
                    lookup, unseal, 1 HMAC, no write; the code is checked against the secret

Running every scenario in each round spreads a noisy machine's moments over all of them.
`vs healthz` is the median over rounds of (req/s of the scenario / req/s of healthz in the
same round), the rounds' values follow: 0.5 means the call costs twice the floor. Codes are
computed before each timed chunk, checks after the timed request. `--sync NORMAL` runs the
server with OTPD_SQLITE_SYNCHRONOUS=NORMAL (no fsync per commit): how much of a write is disk.

Usage: .venv/bin/python -m bench.strongbox_bench [--requests 200] [--rounds 5] [--sync FULL]
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import httpx

from bench.common import FREE_FAILURES, PERIOD, TENANT, secret_for, wrong_code
from bench.http_bench import (
    CLIENT,
    Send,
    Stats,
    parse_args,
    print_report,
    served_client,
    status,
    timed_between,
    timed_each,
)
from otpd.core.otp import totp

CONFIG = "/v1/config/strongbox/totp"
STATE = "/v1/state/strongbox/totp/"
EXPECTED = {
    "healthz": "200",
    "create-generated": "201",
    "create-imported": "201",
    "verify-valid": "true",
    "verify-wrong": "false",
    "get-code": "correct",
}
SCENARIOS = tuple(EXPECTED)
WARMUP = 50  # requests per scenario of the discarded first round
CHUNK = 20  # requests per chunk, and healthz requests woven in before each and after the last


def new_stats() -> dict[str, Stats]:
    return {name: Stats() for name in SCENARIOS}


@dataclass
class Bench:
    http: httpx.Client
    n: int  # requests per scenario per round
    stats: dict[str, Stats] = field(default_factory=new_stats)
    imported: list[tuple[str, bytes]] = field(default_factory=list)  # name, secret
    created: int = 0  # credentials of each kind so far
    wrong_cursor: int = 0
    code_cursor: int = 0
    wrong_per_name: Counter[str] = field(default_factory=Counter)

    def picks(self, cursor: int) -> list[tuple[str, bytes]]:
        """`n` imported credentials, round-robin from `cursor`."""
        return [self.imported[(cursor + i) % len(self.imported)] for i in range(self.n)]


def login(http: httpx.Client, key: str) -> None:
    """POST /v1/login once; the bearer goes on every later request of `http`."""
    body = {"username": CLIENT, "password": key, "tenant": TENANT}
    response = http.post("/v1/login", json=body)
    response.raise_for_status()
    http.headers["Authorization"] = "Bearer " + response.json()["token"]


def _create(http: httpx.Client, name: str, secret: bytes | None = None) -> Send:
    body = {"name": name}
    if secret is not None:
        body["passcode32"] = base64.b32encode(secret).decode()  # 20 bytes: 32 chars, no "="
    return partial(http.post, CONFIG, json=body)


def _verify(http: httpx.Client, name: str, code: str) -> Send:
    return partial(http.post, f"{STATE}{name}/verify-code", json={"code": code})


def _valid(response: httpx.Response) -> str:
    return "true" if response.json().get("valid") is True else f"{response.status_code}/not-true"


def _invalid(response: httpx.Response) -> str:
    return "false" if response.json().get("valid") is False else f"{response.status_code}/other"


def _code_check(secrets: dict[str, bytes], response: httpx.Response) -> str:
    """`correct` when the code is the credential's at the answer's time (or the step before)."""
    if response.status_code != 200:
        return str(response.status_code)
    secret = secrets[response.url.path.split("/")[-2]]  # .../totp/{name}/get-code
    now = int(time.time())
    expected = {totp(secret, now), totp(secret, now - PERIOD)}
    return "correct" if response.json()["code"] in expected else "wrong"


def run_round(b: Bench) -> None:
    http, stats, n = b.http, b.stats, b.n
    healthz = partial(http.get, "/healthz")
    timed_each(stats["healthz"], [healthz] * n, status)

    def measure(
        scenario: str, sends: Sequence[Send], answer: Callable[[httpx.Response], str]
    ) -> None:
        timed_between(stats[scenario], sends, answer, healthz, CHUNK)

    indexes = range(b.created + 1, b.created + n + 1)
    b.created += n
    measure("create-generated", [_create(http, f"g{i:07d}") for i in indexes], status)
    fresh = [(f"i{i:07d}", secret_for(i)) for i in indexes]
    measure("create-imported", [_create(http, *pair) for pair in fresh], status)
    now = int(time.time())
    measure("verify-valid", [_verify(http, name, totp(key, now)) for name, key in fresh], _valid)
    b.imported.extend(fresh)

    picks = b.picks(b.wrong_cursor)
    b.wrong_cursor += n
    b.wrong_per_name.update(name for name, _ in picks)
    now = int(time.time())
    wrong = [_verify(http, name, wrong_code(key, now)) for name, key in picks]
    measure("verify-wrong", wrong, _invalid)

    picks = b.picks(b.code_cursor)
    b.code_cursor += n
    get_code = [partial(http.post, f"{STATE}{name}/get-code") for name, _ in picks]
    measure("get-code", get_code, partial(_code_check, dict(picks)))
    for s in stats.values():
        s.end_round()


def print_checks(b: Bench) -> None:
    """Every answer against EXPECTED (the woven-in healthz too), and the most failures."""
    answers = {name: s.answers.copy() for name, s in b.stats.items()}
    for s in b.stats.values():
        answers["healthz"] += s.floor.answers if s.floor else Counter()
    bad = {
        name: dict(unexpected)
        for name, counts in answers.items()
        if (unexpected := counts - Counter({EXPECTED[name]: counts[EXPECTED[name]]}))
    }
    most = max(b.wrong_per_name.values(), default=0)
    print(
        f"checks: {'unexpected answers' if bad else 'every answer as expected'};"
        f" most wrong codes on one credential {most} (throttling from {FREE_FAILURES})"
    )
    if bad:
        print(f"warning: unexpected answers {bad}")


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__, argv, "--requests", rounds=5)
    scopes = "read,write,verify,code"
    with served_client("otpd-strongbox-bench-", args.sync, scopes) as (http, key):
        login(http, key)
        bench = Bench(http, min(WARMUP, args.requests))
        run_round(bench)  # warm-up (first-call imports, the WAL's growth): its figures go
        bench.n, bench.stats = args.requests, new_stats()
        for _ in range(args.rounds):
            run_round(bench)
    print_report("Strongbox", args, args.requests, bench.stats, per_round=True)
    print_checks(bench)


if __name__ == "__main__":
    main()
