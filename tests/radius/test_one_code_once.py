"""One code, accepted once across RADIUS and the three HTTP APIs, under concurrency: the
RADIUS front-end verifies through the same service call, replay state and throttle budget."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable

import pytest
from pyrad import packet

from tests.support.deployment import Deployment
from tests.support.radius import access_request, exchange, reply_to


def _radius_attempt(radius: Deployment, user: str, code: str) -> bool:
    request = access_request(radius.nas["local"], user, code)
    replies = exchange(radius.radius_port, request.RequestPacket(), timeout=10)
    assert len(replies) == 1
    return bool(reply_to(request, replies[0]).code == packet.AccessAccept)


@pytest.mark.parametrize("round_", range(3))
def test_one_code_accepted_once_across_every_protocol(radius: Deployment, round_: int) -> None:
    email = f"zoe{round_}-{secrets.token_hex(3)}@example.org"
    userid = radius.t2().createuser(email=email)["userid"]
    code = radius.sb().code(email)
    attempts: list[Callable[[], bool]] = [
        lambda: _radius_attempt(radius, email, code),
        lambda: _radius_attempt(radius, email, code),
        lambda: radius.t2().validate(userid, code)["validation"] == "true",
        lambda: radius.sb().verify(email, code).json()["valid"] is True,
        lambda: radius.phenix().put({"username": email, "otp": code}).status_code == 200,
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
    assert len(results) == len(attempts)
    assert results.count(True) == 1, results
