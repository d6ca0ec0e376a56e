"""What the audit trail and the metrics cost a verification (issue #13), through
CredentialService.verify on a real SQLite file (no HTTP, so the ratios are the worst case: HTTP adds
the same absolute cost to every variant).

Variants, interleaved in rounds so they share the same moments of a noisy machine:

  baseline  the services' events go to the `otpd.audit` log line only (as before issue #13)
  +audit    and to the database trail (one more write transaction per verification)
  +metrics  and to the Prometheus counters and the drift histogram (multiprocess mode)

Each verification is a wrong code (a failure write), round-robin over 50 credentials, with
throttling off. Printed: verifications per second and the ratio to the baseline.

Usage: .venv/bin/python -m bench.ops_overhead [--seconds 2] [--synchronous FULL|NORMAL]
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path

from otpd.bootstrap import Services, compose_services
from otpd.clock import SystemClock
from otpd.core.audit import Events, RequestContext, request_context
from otpd.core.context import LogEvents
from otpd.core.model import CredentialSpec, Principal, Scope
from otpd.core.policy import ThrottlePolicy
from otpd.core.trail import Fanout, Trail
from otpd.crypto import open_seal
from otpd.store.sqlite import SqliteStore

CREDENTIALS = 50


def _rate(services: Services, principal: Principal, seconds: float) -> float:
    done, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        for i in range(20):
            services.credentials.verify(principal, f"user{(done + i) % CREDENTIALS}", "000000")
        done += 20
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)  # the audit log line is formatted, not printed
    with tempfile.TemporaryDirectory() as folder:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder + "/metrics"
        os.mkdir(folder + "/metrics")
        from otpd.web.metrics import Metrics  # after the variable: multiprocess mode

        store = SqliteStore(Path(folder) / "otpd.sqlite3", synchronous=args.synchronous)
        sealer = open_seal(Path(folder), store)
        clock = SystemClock()
        throttle = ThrottlePolicy(free_failures=100, guess_limit=10**9)
        services = compose_services(store, sealer, clock, throttle=throttle, label_prefix="Sbox")
        services.access.create_tenant("acme")
        admin = Principal("acme", "bench", frozenset(Scope))
        for i in range(CREDENTIALS):
            services.credentials.create_credential(admin, CredentialSpec(name=f"user{i}"))
        trail = Trail(store, clock, None)
        variants: dict[str, Events] = {
            "baseline": LogEvents(),
            "+audit": Fanout([LogEvents(), trail]),
            "+audit+metrics": Fanout([LogEvents(), trail, Metrics()]),
        }
        rates: dict[str, list[float]] = {name: [] for name in variants}
        with request_context(RequestContext(request_id="bench", source="127.0.0.1", api="x")):
            for _ in range(args.rounds):
                for name, events in variants.items():
                    services.context.events = events
                    store.reset_failures("acme", "user0")
                    rates[name].append(_rate(services, admin, args.seconds))
        store.close()
    base = sorted(rates["baseline"])[len(rates["baseline"]) // 2]
    print(f"SQLite synchronous={args.synchronous}, wrong-code verifications, median of rounds")
    for name, values in rates.items():
        median = sorted(values)[len(values) // 2]
        print(f"{name:16} {median:9.0f}/s  x{median / base:.2f} of baseline")


if __name__ == "__main__":
    main()
