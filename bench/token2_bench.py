"""Token2 over real HTTP: createuser and validate (valid and wrong codes), as ratios against
GET /healthz measured in the same run (issue #5).

Starts `otpd serve` on a free port with a fresh data directory (like the tests, as a
subprocess: bench.http_bench.served_client), creates an API client with the CLI, then runs
`--rounds` rounds; each round runs, with one keep-alive HTTP client and one request at a time:

  healthz          GET /healthz: the floor (HTTP, middleware, routing, a JSON body)
  createuser       POST /createuser?...&format=1: key check, a 20-byte secret sealed with
                   AES-GCM, the credential insert and the ticket insert (two commits)
  validate-valid   GET /validate with the current code of a user created this round, each
                   user once: key check, lookup, unseal, 3 HMACs, advance() (one commit)
  validate-wrong   GET /validate with a wrong code, round-robin over the users from the
                   first one each round (by default the first round's 200 users, once per
                   round): the same work and a failure write (one commit); with
                   OTPD_THROTTLE_FREE_FAILURES=100 no user is throttled (the `answers` column
                   shows "false" only)

Running every scenario in each round spreads a noisy machine's moments over all of them.
`vs healthz` = req/s of the scenario / req/s of healthz: 0.5 means the call costs twice the
floor. Codes are computed before each timed chunk. `--sync NORMAL` runs the server with
OTPD_SQLITE_SYNCHRONOUS=NORMAL (no fsync per commit) to show how much of a write is the disk.

Usage: .venv/bin/python -m bench.token2_bench [--users 200] [--rounds 3] [--sync FULL]
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import httpx

from bench.common import wrong_code
from bench.http_bench import (
    Send,
    Stats,
    parse_args,
    print_report,
    served_client,
    status,
    timed_each,
)
from otpd.core.otp import totp

SCENARIOS = ("healthz", "createuser", "validate-valid", "validate-wrong")


@dataclass
class User:
    userid: int
    secret: bytes


def _secret(b32: str) -> bytes:
    return base64.b32decode(b32 + "=" * (-len(b32) % 8))


def _validate(http: httpx.Client, key: str, userid: int, code: str) -> Send:
    query = {"api": key, "userid": str(userid), "token": code, "format": "1"}
    return partial(http.get, "/validate", params=query)


def _validation(response: httpx.Response) -> str:
    return str(response.json()["validation"])


def run_round(
    http: httpx.Client, key: str, n: int, users: list[User], stats: dict[str, Stats]
) -> None:
    timed_each(stats["healthz"], [partial(http.get, "/healthz")] * n, status)
    params = {"api_key": key, "phone": "41791234567", "format": "1"}
    created = timed_each(
        stats["createuser"],
        [partial(http.post, "/createuser", params=params)] * n,
        lambda r: str(r.json()["success"]),
    )
    fresh = [User(r.json()["userid"], _secret(r.json()["hash"])) for r in created]
    now = int(time.time())
    valid = [_validate(http, key, u.userid, totp(u.secret, now)) for u in fresh]
    timed_each(stats["validate-valid"], valid, _validation)
    users.extend(fresh)
    now = int(time.time())
    picks = [users[i % len(users)] for i in range(n)]
    wrong = [_validate(http, key, u.userid, wrong_code(u.secret, now)) for u in picks]
    timed_each(stats["validate-wrong"], wrong, _validation)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(__doc__, argv, "--users", rounds=3)
    stats = {name: Stats() for name in SCENARIOS}
    users: list[User] = []
    with served_client("otpd-token2-bench-", args.sync, "read,write,verify") as (http, key):
        for _ in range(args.rounds):
            run_round(http, key, args.users, users, stats)
    print_report("Token2", args, args.users, stats)


if __name__ == "__main__":
    main()
