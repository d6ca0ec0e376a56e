"""Coverage-guided fuzzing of otpd's request parsers with atheris (libFuzzer for Python).

    .venv/bin/pip install -e '.[fuzz]'
    .venv/bin/python -m bench.fuzz                       # every target, 60 s each
    .venv/bin/python -m bench.fuzz --target app --seconds 30
    .venv/bin/python -m bench.fuzz --target token2 --runs 100000

Targets (each runs in its own process: libFuzzer owns the process it runs in):

  strongbox  a body as Strongbox reads it (JSON, JSON Patch, YAML by Content-Type), then the
             TOTP-object rules and PATCH on it
  token2     a query string and a form body as Token2 reads them, then createuser / validate /
             listusers parameter rules
  phenixid   the tenant and Authorization headers and the JSON body of otp_token_auth
  app        whole requests (any method, path, raw query bytes, headers, body) through the real
             ASGI app on a fresh data directory, logged in with a real API client

A finding is an exception other than the adapter's own errors (pure targets), or a 5xx or an
exception escaping the app (app target). Findings are grouped by exception type and the last
otpd frame, printed with one input each, and the script exits 1 when there are any.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

TARGETS = ("strongbox", "token2", "phenixid", "app")
SUMMARY = "FUZZ-SUMMARY "

SEEDS: dict[str, list[bytes]] = {
    "strongbox": [
        b'\x00{"name": "alice", "digits": 6, "period": "30s", "passcode32": "JBSWY3DPEHPK3PXP"}',
        b'\x01[{"op": "replace", "path": "/digits", "value": 8}]',
        b"\x02name: alice\nperiod: 1m30s\nskew: 2\n",
        b'\x03{"digits": null, "issuer": "x"}',
    ],
    "token2": [
        b"api_key=0123456789&userid=12&token=123456&format=1\x00pin=0&type=0",
        b"action=listusers&api=x&format=2\x00email=a%40b.c&phone=%2B15551234567",
    ],
    "phenixid": [
        b'acme\x00Basic YWRtaW46a2V5\x00{"username": "alice", "otp": "123456"}',
        b'acme\x00Basic !!\x00{"username": "a", "otp": 12}',
    ],
    "app": [
        b'\x00\x00\x00{"code": "123456"}',
        b"\x05\x02\x01api_key=K&userid=1&token=123456",
        b'\x07\x03\x02{"username": "alice", "otp": "000000"}',
    ],
}


class Findings:
    def __init__(self, target: str, deadline: float, runs: int) -> None:
        self.target = target
        self.deadline = deadline
        self.runs = runs
        self.executions = 0
        self.started = time.monotonic()
        self.groups: dict[str, tuple[int, bytes]] = {}

    def add(self, key: str, data: bytes) -> None:
        count, first = self.groups.get(key, (0, data))
        self.groups[key] = (count + 1, first)

    def tick(self) -> None:
        self.executions += 1
        over = self.runs and self.executions >= self.runs
        if over or time.monotonic() >= self.deadline:
            self.report()
            sys.stdout.flush()
            os._exit(0)  # libFuzzer would otherwise keep going; its exit skips Python's atexit

    def report(self) -> None:
        elapsed = time.monotonic() - self.started
        summary = {
            "target": self.target,
            "executions": self.executions,
            "seconds": round(elapsed, 1),
            "findings": [
                {"where": key, "count": count, "input": first[:200].hex()}
                for key, (count, first) in sorted(self.groups.items())
            ],
        }
        print(SUMMARY + json.dumps(summary))


def _where(error: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if "otpd" in f.filename]
    last = frames[-1] if frames else traceback.extract_tb(error.__traceback__)[-1]
    return f"{type(error).__name__} at {Path(last.filename).name}:{last.lineno} ({last.name})"


# --- the targets: each returns a function of one input --------------------------------------


def _strongbox(loop: asyncio.AbstractEventLoop) -> Callable[[bytes], None]:
    from otpd.api.strongbox.parse import apply_patch, parse_body, spec_from_fields
    from otpd.core.errors import OtpdError

    types = [b"application/json", b"application/json-patch+json", b"application/yaml", b""]

    def one(data: bytes) -> None:
        kind, body = (data[0] if data else 0) % len(types), data[1:]
        try:
            parsed = parse_body(body, types[kind].decode())
        except OtpdError:
            return
        with contextlib.suppress(OtpdError):
            spec_from_fields(parsed.value, None)
        with contextlib.suppress(OtpdError):
            current = {"name": "alice", "digits": 6, "period": "30s"}
            spec_from_fields(apply_patch(current, parsed), "alice")

    return one


def _token2(loop: asyncio.AbstractEventLoop) -> Callable[[bytes], None]:
    from urllib.parse import parse_qsl

    from otpd.api.token2.parse import (
        Call,
        Params,
        create_user,
        params_from_query,
        require_listusers,
        validate,
    )
    from otpd.core.errors import OtpdError

    def one(data: bytes) -> None:
        query, _, form = data.partition(b"\x00")
        params = params_from_query(query)
        form_pairs = parse_qsl(form.decode("utf-8", "replace"), keep_blank_values=True)
        params = Params(params.query, tuple(form_pairs))
        repr(params)
        validate(params)
        params.format(Call.VALIDATE)
        params.key()
        for check in (create_user, require_listusers):
            with contextlib.suppress(OtpdError):
                check(params)

    return one


def _phenixid(loop: asyncio.AbstractEventLoop) -> Callable[[bytes], None]:
    from starlette.datastructures import Headers

    from otpd.api.phenixid.parse import basic_credentials, parse_token_auth, tenant_header
    from otpd.core.errors import InvalidInput

    def one(data: bytes) -> None:
        tenant, _, rest = data.partition(b"\x00")
        auth, _, body = rest.partition(b"\x00")
        headers = Headers(raw=[(b"tenant", tenant), (b"authorization", auth)])
        tenant_header(headers)
        basic_credentials(headers)
        with contextlib.suppress(InvalidInput):
            parse_token_auth("application/json", body)

    return one


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=60.0, help="budget per target")
    parser.add_argument("--runs", type=int, default=0, help="stop after this many inputs instead")
    parser.add_argument("--replay", metavar="HEX", help="run one input of --target, loudly")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.replay:
        return _child(args.target, args.seconds, args.runs, args.replay)
    targets = TARGETS if args.target == "all" else (args.target,)
    found = 0
    print(f"{'target':<10} {'executions':>11} {'seconds':>8} {'exec/s':>8}  findings")
    for target in targets:
        summary = _run_child(target, args.seconds, args.runs)
        rate = summary["executions"] / max(summary["seconds"], 0.001)
        findings = summary["findings"]
        found += len(findings)
        print(
            f"{target:<10} {summary['executions']:>11} {summary['seconds']:>8} {rate:>8.0f}  "
            f"{len(findings)}"
        )
        for finding in findings:
            print(
                f"    {finding['count']}x {finding['where']}\n      input (hex): {finding['input']}"
            )
    return 1 if found else 0


def _run_child(target: str, seconds: float, runs: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.fuzz", "--child", "--target", target]
    command += ["--seconds", str(seconds), "--runs", str(runs)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 300)
    for line in result.stdout.splitlines():
        if line.startswith(SUMMARY):
            summary: dict[str, Any] = json.loads(line[len(SUMMARY) :])
            return summary
    tail = (result.stderr or result.stdout)[-2000:]
    return {
        "executions": 0,
        "seconds": 0,
        "findings": [{"where": "fuzzer died", "count": 1, "input": tail.encode().hex()[:200]}],
    }


def _child(target: str, seconds: float, runs: int, replay: str | None = None) -> int:
    import atheris

    with atheris.instrument_imports(include=["otpd", "jsonpatch", "yaml"]):
        import otpd.api.phenixid.parse
        import otpd.api.strongbox.parse
        import otpd.api.token2.parse
        import otpd.web.app  # noqa: F401 (instrumented before first use)
    loop = asyncio.new_event_loop()
    findings = Findings(target, time.monotonic() + seconds, runs)
    if target == "app":
        from bench.fuzz_app import app_target

        one = app_target(loop, findings)
    else:
        one = {"strongbox": _strongbox, "token2": _token2, "phenixid": _phenixid}[target](loop)

    if replay is not None:
        logging.basicConfig(level=logging.INFO)  # the app logs the traceback of a 500
        one(bytes.fromhex(replay))
        findings.report()
        return 0

    def test_one_input(data: bytes) -> None:
        try:
            one(data)
        except Exception as error:  # a finding: anything but the adapters' own errors
            findings.add(_where(error), data)
        findings.tick()

    corpus = Path(tempfile.mkdtemp(prefix=f"otpd-fuzz-{target}-"))
    for number, seed in enumerate(SEEDS[target]):
        (corpus / f"seed{number}").write_bytes(seed)
    libfuzzer = ["fuzz", str(corpus), f"-max_total_time={int(seconds) + 30}", "-rss_limit_mb=2048"]
    atheris.Setup(libfuzzer, test_one_input)
    atheris.Fuzz()
    findings.report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
