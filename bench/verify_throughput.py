"""Verifications per second through CredentialService.verify (no HTTP), against a bare HMAC loop.

For each N (credentials in the database) and each SQLite synchronous mode, this builds the real
pieces (SqliteStore, the embedded seal from open_seal, the composed services with a fake clock) on a
copy of one bulk-populated data directory and measures, each for --seconds of timed calls:

  wrong-code    credentials.verify with a wrong code: lookup, unseal, 3 HMACs, a failure write
  valid-code    credentials.verify with the current code: lookup, unseal, 3 HMACs, advance()
  unknown-name  credentials.verify on a name that does not exist: lookup miss, 3 dummy HMACs

Two baselines run in slices between the scenario's chunks (each slice half as long as the
chunk before it), so a scenario and its baselines share the same moments of a noisy machine:

  hmac/s   a bare loop of 3-step-window TOTP checks with hmac/hashlib directly (the CPU);
           vs hmac = verif/s / hmac/s: 0.05 means a verification costs 20 bare checks
  fsync/s  a bare 4 KiB pwrite + fdatasync in the data directory (the disk: what a WAL commit
           with synchronous=FULL waits for); vs fsync = verif/s / fsync/s, near 1 (or
           below) means the disk is the limit

Throttling: the service gets ThrottlePolicy(free_failures=--free-failures, default 100, the
maximum otpd allows) and wrong codes go round-robin over a shuffled cycle of all credentials, so
no credential is throttled unless one run makes more than 100*N verifications; the outcome
column shows what the service answered, so a throttled run is visible.

Valid codes: each chunk of work is a random sample of distinct credentials, and the fake clock
moves one period forward before each chunk, so every code is fresh (a credential accepts one
code per step). Codes are computed before the timed part of each chunk.

Usage: .venv/bin/python -m bench.verify_throughput [--sizes 1000,1000000] [--seconds 3]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import random
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import (
    PERIOD,
    TENANT,
    FakeClock,
    Meter,
    cred_name,
    fsync_batch,
    populate,
    print_table,
    secret_for,
)
from otpd.bootstrap import SQLITE_FILE, Services, compose_services
from otpd.core.model import Principal, Scope
from otpd.core.otp import totp
from otpd.core.policy import ThrottlePolicy
from otpd.crypto import open_seal
from otpd.store.sqlite import SqliteStore

Item = tuple[str, str]  # (credential name, submitted code)
PRINCIPAL = Principal(tenant=TENANT, client="bench", scopes=frozenset({Scope.VERIFY}))
_WRONG_CANDIDATES = ("000000", "111111", "222222", "333333")


@dataclass
class Result:
    scenario: str
    ops: int
    seconds: float
    outcomes: Counter[str]
    hmac_rate: float  # bare window checks/s, interleaved with this scenario
    fsync_rate: float  # bare page write + fdatasync/s, interleaved with this scenario

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0


@dataclass
class Group:
    """One runtime under test: N credentials, one synchronous mode, its data directory."""

    n: int
    synchronous: str
    data_dir: Path
    services: Services
    clock: FakeClock
    rng: random.Random
    chunk: int


# --- baselines -----------------------------------------------------------------------------
def _bare_check(key: bytes, counters: Sequence[bytes], candidate: bytes) -> bool:
    """One 3-step-window TOTP check (RFC 4226 §5.3 truncation), no early exit."""
    equal = False
    for message in counters:
        mac = hmac.new(key, message, hashlib.sha1).digest()
        offset = mac[-1] & 0x0F
        value = (int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
        equal |= hmac.compare_digest(b"%06d" % value, candidate)
    return equal


def hmac_batch() -> Callable[[], int]:
    """The CPU baseline: bare HMAC-SHA1 window checks over 64 keys."""
    keys = [secret_for(i) for i in range(1, 65)]
    step = int(time.time()) // PERIOD
    counters = [(step + delta).to_bytes(8, "big") for delta in (-1, 0, 1)]

    def batch() -> int:
        for key in keys:
            _bare_check(key, counters, b"000000")
        return len(keys)

    return batch


# --- service scenarios -------------------------------------------------------------------
def _timed(
    group: Group, scenario: str, make_chunk: Callable[[], list[Item]], seconds: float
) -> Result:
    """Run chunks until `seconds` of verify calls (only the calls are timed). After each
    chunk, the two baselines run for half the chunk's duration each."""
    verify = group.services.credentials.verify
    cpu = Meter(hmac_batch())
    disk = Meter(fsync_batch(group.data_dir / "fsync-baseline"))
    ops, spent, outcomes = 0, 0.0, Counter[str]()
    while spent < seconds:
        items = make_chunk()
        start = time.perf_counter()
        results = [verify(PRINCIPAL, name, code) for name, code in items]
        elapsed = time.perf_counter() - start
        cpu.run(elapsed / 2)
        disk.run(elapsed / 2)
        spent += elapsed
        ops += len(items)
        outcomes.update(result.outcome.value for result in results)
    return Result(scenario, ops, spent, outcomes, cpu.rate, disk.rate)


def _shuffled_cycle(n: int, rng: random.Random) -> Iterator[int]:
    """1..n in a fresh random order, again and again: each credential gets its turn evenly."""
    order = list(range(1, n + 1))
    while True:
        rng.shuffle(order)
        yield from order


def _wrong_code(index: int, now: int) -> str:
    """A code outside credential `index`'s whole window at `now` (never accidentally valid)."""
    window = {totp(secret_for(index), now + delta * PERIOD) for delta in (-1, 0, 1)}
    return next(code for code in _WRONG_CANDIDATES if code not in window)


def wrong_codes(group: Group, seconds: float) -> Result:
    indices = _shuffled_cycle(group.n, group.rng)

    def chunk() -> list[Item]:
        now = group.clock.now_s
        picked = [next(indices) for _ in range(group.chunk)]
        return [(cred_name(i), _wrong_code(i, now)) for i in picked]

    return _timed(group, "wrong-code", chunk, seconds)


def valid_codes(group: Group, seconds: float) -> Result:
    def chunk() -> list[Item]:
        group.clock.advance(PERIOD)  # a fresh step: every credential may accept one code
        now = group.clock.now_s
        picked = group.rng.sample(range(1, group.n + 1), min(group.chunk, group.n))
        return [(cred_name(i), totp(secret_for(i), now)) for i in picked]

    return _timed(group, "valid-code", chunk, seconds)


def unknown_names(group: Group, seconds: float) -> Result:
    def chunk() -> list[Item]:
        return [(f"missing{group.rng.randrange(10**9)}", "123456") for _ in range(group.chunk)]

    return _timed(group, "unknown-name", chunk, seconds)


# --- driving -----------------------------------------------------------------------------
def measure_group(
    data_dir: Path, n: int, synchronous: str, args: argparse.Namespace
) -> list[Result]:
    store = SqliteStore(data_dir / SQLITE_FILE, synchronous=synchronous)
    try:
        clock = FakeClock(int(time.time()) // PERIOD * PERIOD + 1)
        services = compose_services(
            store,
            open_seal(data_dir, store),
            clock,
            throttle=ThrottlePolicy(free_failures=args.free_failures),
            label_prefix="Sbox",
        )
        rng = random.Random(args.seed)
        group = Group(n, synchronous, data_dir, services, clock, rng, args.chunk)
        scenarios = (wrong_codes, valid_codes, unknown_names)
        return [scenario(group, args.seconds) for scenario in scenarios]
    finally:
        store.close()


def _outcomes(result: Result) -> str:
    return ", ".join(f"{name} {count}" for name, count in sorted(result.outcomes.items()))


def table_rows(n: int, synchronous: str, results: list[Result]) -> list[list[object]]:
    return [
        [
            r.scenario,
            f"{n:,}",
            synchronous,
            f"{r.ops:,}",
            f"{r.rate:,.0f}",
            f"{r.hmac_rate:,.0f}",
            f"{r.rate / r.hmac_rate:.4f}",
            f"{r.fsync_rate:,.0f}",
            f"{r.rate / r.fsync_rate:.2f}",
            _outcomes(r),
        ]
        for r in results
    ]


def measure_size(root: Path, n: int, args: argparse.Namespace) -> list[list[object]]:
    template = root / f"n{n}"
    seconds = populate(template, n)
    print(f"populated N={n:,} in {seconds:.2f} s ({n / seconds:,.0f} credentials/s)", flush=True)
    rows: list[list[object]] = []
    for synchronous in args.sync:
        copy = root / f"n{n}-{synchronous}"
        shutil.copytree(template, copy)
        print(f"measuring N={n:,} synchronous={synchronous} ...", flush=True)
        rows += table_rows(n, synchronous, measure_group(copy, n, synchronous, args))
        shutil.rmtree(copy)
    shutil.rmtree(template)
    return rows


def _csv(kind: Callable[[str], object]) -> Callable[[str], list[object]]:
    return lambda text: [kind(part) for part in text.split(",") if part]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=_csv(int), default=[1000, 1_000_000])
    parser.add_argument("--sync", type=_csv(str.upper), default=["FULL", "NORMAL"])
    parser.add_argument("--seconds", type=float, default=3.0, help="timed work per scenario")
    parser.add_argument("--chunk", type=int, default=256, help="verifications per timed chunk")
    parser.add_argument("--free-failures", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=None, help="where the temp data dirs go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="otpd-bench-verify-", dir=args.dir))
    try:
        rows: list[list[object]] = []
        for n in args.sizes:
            rows += measure_size(root, n, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print()
    print(f"verify throughput through CredentialService, {args.seconds:g} s timed per scenario;")
    print("baselines interleaved with each scenario: hmac/s = bare 3-step TOTP window checks,")
    print("fsync/s = bare 4 KiB pwrite + fdatasync in the data directory")
    print("vs hmac = verif/s / hmac/s; vs fsync = verif/s / fsync/s")
    headers = ["scenario", "N", "sync", "ops", "verif/s", "hmac/s", "vs hmac", "fsync/s"]
    headers += ["vs fsync", "outcomes"]
    print_table(headers, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
