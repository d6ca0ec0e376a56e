"""Every request makes exactly one worker hop (docs/design.md#request-flow, issue #10)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from starlette.requests import Request

from otpd.api.common import one_hop

ROOT = Path(__file__).resolve().parents[2]


def test_a_second_hop_for_one_request_is_refused() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/", "headers": []})

    async def twice() -> None:
        assert await one_hop(request, lambda: 1) == 1
        with pytest.raises(RuntimeError, match="exactly one worker hop"):
            await one_hop(request, lambda: 2)

    anyio.run(twice)


def test_every_verification_and_strongbox_read_makes_one_hop() -> None:
    """bench/request_cost.py drives each path through the real app once and counts calls of
    otpd.api.hop.run_in_worker and anyio.to_thread.run_sync (before #10, Strongbox verify-code,
    GET and get-qr-code made 3 and PUT 4)."""
    result = subprocess.run(
        [sys.executable, "-m", "bench.request_cost"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    rows = [line for line in result.stdout.splitlines()[2:] if line.strip()]
    assert len(rows) == 8, result.stdout
    statements = {}
    for row in rows:
        name, status, hops, sql, _ = re.split(r"\s{2,}", row.strip())
        assert status in ("200", "204", "2"), row  # 2: RADIUS Access-Accept
        assert int(hops) == 1, name
        statements[name] = int(sql)
    # one token lookup (with its client) and the renewal: the refresh once looked it up twice
    assert statements["Strongbox token refresh"] == 2, result.stdout
