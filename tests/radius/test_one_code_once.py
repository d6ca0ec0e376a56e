"""One code, accepted once across RADIUS and the three HTTP APIs, under concurrency: the
RADIUS front-end verifies through the same service call, replay state and throttle budget."""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable

import httpx
import pytest
from pyrad import packet

from tests.support.radius import Radius, access_request, exchange, reply_to
from tests.support.server import register_secret

PHENIXID = "/api/authentication/otp_token_auth"


def _radius_attempt(radius: Radius, user: str, code: str) -> bool:
    request = access_request(radius.secret, user, code)
    replies = exchange(radius.port, request.RequestPacket(), timeout=10)
    assert len(replies) == 1
    return bool(reply_to(request, replies[0]).code == packet.AccessAccept)


@pytest.mark.parametrize("round_", range(3))
def test_one_code_accepted_once_across_every_protocol(radius: Radius, round_: int) -> None:
    http = httpx.Client(base_url=radius.server.url, timeout=30)
    basic = "Basic " + base64.b64encode(f"admin:{radius.key}".encode()).decode()
    email = f"zoe{round_}-{secrets.token_hex(3)}@example.org"
    created = http.post(
        "/createuser",
        params={"api_key": radius.key, "format": "1", "email": email, "phone": "41791234567"},
    ).json()
    assert created["success"] == "true", created
    register_secret(base64.b32decode(created["hash"] + "=" * (-len(created["hash"]) % 8)))
    userid = created["userid"]
    code = radius.sb.code(email)
    attempts: list[Callable[[], bool]] = [
        lambda: _radius_attempt(radius, email, code),
        lambda: _radius_attempt(radius, email, code),
        lambda: (
            http.get(
                "/validate",
                params={"api": radius.key, "token": code, "userid": userid, "format": "1"},
            ).json()["validation"]
            == "true"
        ),
        lambda: radius.sb.verify(email, code).json()["valid"] is True,
        lambda: (
            http.put(
                PHENIXID,
                json={"username": email, "otp": code},
                headers={"tenant": "acme", "Authorization": basic},
            ).status_code
            == 200
        ),
    ]
    results: list[bool] = []
    barrier = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], bool]) -> None:
        barrier.wait()
        results.append(attempt())

    threads = [threading.Thread(target=run, args=(a,)) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    http.close()
    assert len(results) == len(attempts)
    assert results.count(True) == 1, results
