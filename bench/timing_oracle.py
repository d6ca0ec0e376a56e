"""Can response time tell an attacker more than "rejected"? Four rejecting cases, through the
real server, against the baseline "known name, wrong code":

  unknown    a name (PhenixID) or userid (Token2) that does not exist
  throttled  a known name after 8 wrong codes (default throttle: 5 free, then a wait; the wait
             is made long here, OTPD_THROTTLE_BASE_DELAY=3600, so it lasts the whole run)
  replayed   a known name with the code it was just accepted with
  wrong      a known name with a wrong code (the baseline)

    .venv/bin/python -m bench.timing_oracle                 # 2,000 samples per case and API
    .venv/bin/python -m bench.timing_oracle --samples 500 --api token2

The cases are interleaved in a random order, one keep-alive client, one request at a time. Each
case is compared with `wrong` by a two-sided Mann-Whitney U test (normal approximation with tie
correction, stdlib only). A case is *distinguishable* when p < 0.001 AND the ratio of medians is
outside 0.9-1.1 (with thousands of samples a 1 % shift is "significant" but useless to an
attacker over a network); the script exits 1 if any case is.

A wrong code or a replay counts as a failure, and five in a row start the throttle: so the
`wrong` and `replayed` samples are spread over pools of credentials, at most 4 each.

Then a core-level check that the window comparison has no early exit: evaluate_code's time
for a code matching the first candidate, the last candidate, or none (skew 10: 21 candidates).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import stop_group
from bench.http_bench import REPO, _ready_url, otpd_cli
from otpd.core.model import Algorithm, OtpParams
from otpd.core.otp import hotp, totp_step
from otpd.core.policy import evaluate_code

TENANT = "acme"
CASES = ("wrong", "unknown", "throttled", "replayed")
PER_CREDENTIAL = 4  # failures per credential, below the 5 free ones
P_LIMIT = 0.001
RATIO_BAND = (0.9, 1.1)
PHENIX = "/api/authentication/otp_token_auth"


# --- statistics ------------------------------------------------------------------------------
def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, tie-corrected)."""
    n1, n2 = len(a), len(b)
    pooled = sorted([(x, 0) for x in a] + [(x, 1) for x in b])
    ranks = [0.0] * len(pooled)
    ties = 0.0
    i = 0
    while i < len(pooled):
        j = i
        while j + 1 < len(pooled) and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = sum(rank for rank, (_, group) in zip(ranks, pooled, strict=True) if group == 0)
    u = r1 - n1 * (n1 + 1) / 2
    n = n1 + n2
    sigma = math.sqrt(n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))))
    if sigma == 0:
        return 1.0
    z = (abs(u - n1 * n2 / 2) - 0.5) / sigma
    return math.erfc(max(z, 0.0) / math.sqrt(2))


@dataclass
class Verdict:
    label: str
    median_us: float
    ratio: float
    p: float

    @property
    def distinguishable(self) -> bool:
        low, high = RATIO_BAND
        return self.p < P_LIMIT and not low <= self.ratio <= high


def compare(samples: dict[str, list[float]], baseline: str) -> list[Verdict]:
    base = statistics.median(samples[baseline])
    verdicts = [Verdict(baseline, base * 1e6, 1.0, 1.0)]
    for label, values in samples.items():
        if label != baseline:
            med = statistics.median(values)
            verdicts.append(
                Verdict(label, med * 1e6, med / base, mann_whitney(values, samples[baseline]))
            )
    return verdicts


def print_verdicts(title: str, verdicts: list[Verdict], n: int) -> None:
    print(f"\n{title} ({n} samples per case)")
    print(f"  {'case':<12} {'median':>10} {'ratio':>7} {'p-value':>10}  verdict")
    for v in verdicts:
        verdict = (
            "baseline"
            if v.ratio == 1.0 and v.p == 1.0
            else ("DISTINGUISHABLE" if v.distinguishable else "indistinguishable")
        )
        print(f"  {v.label:<12} {v.median_us:>8.0f}us {v.ratio:>7.3f} {v.p:>10.2e}  {verdict}")


# --- the server ------------------------------------------------------------------------------
@contextmanager
def serve(data_dir: Path, sync: str) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTPD_")}
    env.update(
        PYTHONUNBUFFERED="1",
        OTPD_LOG_LEVEL="warning",
        OTPD_SQLITE_SYNCHRONOUS=sync,
        OTPD_THROTTLE_BASE_DELAY="3600",  # the throttled case stays throttled all run
        OTPD_THROTTLE_MAX_DELAY="86400",
    )
    command = [sys.executable, "-m", "otpd", "serve", "--data-dir", str(data_dir), "--port", "0"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
        start_new_session=True,
    )
    try:
        yield _ready_url(proc, None)
    finally:
        stop_group(proc)


@dataclass
class User:
    userid: int
    secret: bytes
    used: int = 0  # failures spent
    accepted: tuple[str, int] | None = None  # (code, step) accepted, for replays

    @property
    def name(self) -> str:
        return f"user{self.userid}"


def wrong_code(user: User, now: float) -> str:
    step = totp_step(int(now), 30)
    window = {hotp(user.secret, s, 6, Algorithm.SHA1) for s in range(step - 2, step + 3)}
    return next(
        c for c in (f"{random.randrange(10**6):06d}" for _ in range(100)) if c not in window
    )


# --- the two APIs ----------------------------------------------------------------------------
@dataclass
class Api:
    name: str
    http: httpx.Client
    key: str
    answers: dict[str, set[tuple[int, bytes]]] = field(default_factory=dict)

    def send(self, user: User | None, code: str) -> httpx.Response:
        if self.name == "token2":
            userid = user.userid if user else 10**9 + random.randrange(10**6)
            query = {"api_key": self.key, "userid": str(userid), "token": code, "format": "1"}
            return self.http.get("/validate", params=query)
        name = user.name if user else f"nobody{random.randrange(10**9)}"
        headers = {
            "tenant": TENANT,
            "Authorization": "Basic " + base64.b64encode(f"app:{self.key}".encode()).decode(),
            "Content-Type": "application/json",
        }
        body = json.dumps({"username": name, "otp": code}).encode()
        return self.http.put(PHENIX, content=body, headers=headers)

    def accepted(self, response: httpx.Response) -> bool:
        if self.name == "token2":
            return bool(response.json().get("validation") == "true")
        return response.status_code == 200


class Pools:
    """Credentials with failures to spend; each gives at most PER_CREDENTIAL of them."""

    def __init__(self, users: list[User]) -> None:
        self.wrong = list(users[0::2])
        self.replay = list(users[1::2])

    def next_wrong(self) -> User:
        user = next(u for u in self.wrong if u.used < PER_CREDENTIAL)
        user.used += 1
        return user

    def next_replay(self, api: Api) -> tuple[User, str]:
        """A credential whose current code was accepted within the last 15 s and which has
        failures left. 15 s: accepted at step s (or s+1, if the step turned on the way), a
        replay then lands at most one step later, where skew 1 still reaches s: REPLAYED."""
        for user in self.replay:
            if user.accepted and user.used < PER_CREDENTIAL and time.time() - user.accepted[1] < 15:
                user.used += 1
                return user, user.accepted[0]
        user = next(u for u in self.replay if u.accepted is None)
        code = hotp(user.secret, totp_step(int(time.time()), 30))
        assert api.accepted(api.send(user, code)), "the fresh code was not accepted"
        user.accepted = (code, int(time.time()))
        user.used = 1
        return user, code


def enrol(http: httpx.Client, key: str, count: int) -> list[User]:
    users = []
    for n in range(count):
        query = {"api_key": key, "phone": f"+1555{n:07d}", "format": "1"}
        body = http.get("/createuser", params=query).json()
        users.append(User(int(body["userid"]), base64.b32decode(body["hash"])))
    return users


def measure(api: Api, pools: Pools, throttled: User, samples: int) -> dict[str, list[float]]:
    schedule = [case for case in CASES for _ in range(samples)]
    random.shuffle(schedule)
    times: dict[str, list[float]] = {case: [] for case in CASES}
    for case in schedule:
        user: User | None
        if case == "wrong":
            user = pools.next_wrong()
            code = wrong_code(user, time.time())
        elif case == "unknown":
            user, code = None, f"{random.randrange(10**6):06d}"
        elif case == "throttled":
            user, code = throttled, wrong_code(throttled, time.time())
        else:
            user, code = pools.next_replay(api)
        start = time.perf_counter()
        response = api.send(user, code)
        times[case].append(time.perf_counter() - start)
        assert not api.accepted(response), case
        api.answers.setdefault(case, set()).add((response.status_code, response.content))
    return times


def run_http(samples: int, apis: Sequence[str], sync: str) -> bool:
    bad = False
    with (
        tempfile.TemporaryDirectory(prefix="otpd-timing-") as tmp,
        serve(Path(tmp) / "d", sync) as url,
    ):
        args = ["--tenant", TENANT, "--name", "app", "--scopes", "read,write,verify", "--json"]
        key = json.loads(otpd_cli(Path(tmp) / "d", "client", "create", *args))["key"]
        with httpx.Client(base_url=url, timeout=30) as http:
            # a replay credential left unused for 20 s is skipped: a quarter more of them
            per_pool = math.ceil(1.25 * len(apis) * samples / PER_CREDENTIAL)
            started = time.monotonic()
            users = enrol(http, key, 2 * per_pool + 1)
            print(f"enrolled {len(users)} credentials in {time.monotonic() - started:.1f}s")
            throttled, pools = users[-1], Pools(users[:-1])
            for name in apis:
                api = Api(name, http, key)
                for _ in range(8):  # 5 free failures, then the long wait starts
                    api.send(throttled, wrong_code(throttled, time.time()))
                right = hotp(throttled.secret, totp_step(int(time.time()), 30))
                assert not api.accepted(api.send(throttled, right)), "not throttled"
                started = time.monotonic()
                times = measure(api, pools, throttled, samples)
                verdicts = compare(times, "wrong")
                print_verdicts(
                    f"{name}: rejections over HTTP, {time.monotonic() - started:.0f}s",
                    verdicts,
                    samples,
                )
                _print_answers(api)
                bad |= any(v.distinguishable for v in verdicts)
    return bad


def _print_answers(api: Api) -> None:
    kinds = {case: len(answers) for case, answers in api.answers.items()}
    every = set().union(*api.answers.values())
    note = "one answer for every case" if len(every) == 1 else f"DIFFERENT ANSWERS: {kinds}"
    print(f"  answers: {note}")


# --- the window comparison, in the core --------------------------------------------------------
def run_core(samples: int) -> bool:
    params = OtpParams(skew=10)
    secret, now = os.urandom(20), int(time.time())
    step = totp_step(now, params.period)
    codes = {
        "no match": "",
        "first": hotp(secret, step - params.skew),
        "last": hotp(secret, step + params.skew),
    }
    window = {hotp(secret, s) for s in range(step - params.skew, step + params.skew + 1)}
    codes["no match"] = next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in window)
    if codes["first"] == codes["last"]:
        return run_core(samples)  # one in a million: draw another secret
    schedule = [label for label in codes for _ in range(samples)]
    random.shuffle(schedule)
    times: dict[str, list[float]] = {label: [] for label in codes}
    clock: Callable[[], int] = time.perf_counter_ns
    for label in schedule:
        start = clock()
        evaluate_code(secret, params, codes[label], now, -1)
        times[label].append((clock() - start) / 1e9)
    verdicts = compare(times, "no match")
    print_verdicts(
        f"core: evaluate_code, skew {params.skew} ({2 * params.skew + 1} candidates)",
        verdicts,
        samples,
    )
    return any(v.distinguishable for v in verdicts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=2000, help="per case and API")
    parser.add_argument("--api", choices=["token2", "phenixid", "both"], default="both")
    parser.add_argument(
        "--sync",
        choices=["FULL", "NORMAL"],
        default="NORMAL",
        help="the server's SQLite synchronous (NORMAL: less disk noise)",
    )
    parser.add_argument("--core-samples", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    random.seed(args.seed)
    apis = ["token2", "phenixid"] if args.api == "both" else [args.api]
    bad = run_http(args.samples, apis, args.sync)
    bad |= run_core(args.core_samples)
    print("\nresult:", "a case is DISTINGUISHABLE" if bad else "no case is distinguishable")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
