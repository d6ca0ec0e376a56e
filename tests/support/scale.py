"""Several instances of one deployment (issue #11; `start_deployment(..., instances=N)`):
the same code sent to every instance through all three APIs at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from tests.support.clients import Cred
from tests.support.deployment import Deployment
from tests.support.server import Server

Attempt = Callable[[Cred, str], bool]


def strongbox(deployment: Deployment, server: Server) -> Attempt:
    """Strongbox verify-code as the admin on `server`: accepted or not."""
    sb = deployment.sb("admin", on=server)

    def attempt(cred: Cred, code: str) -> bool:
        response = sb.verify(cred.name, code)
        assert response.status_code == 200, response.text
        valid: bool = response.json()["valid"]
        return valid

    return attempt


def token2(deployment: Deployment, server: Server) -> Attempt:
    t2 = deployment.t2("admin", on=server)

    def attempt(cred: Cred, code: str) -> bool:
        return bool(t2.validate(str(cred.userid), code)["validation"] == "true")

    return attempt


def phenixid(deployment: Deployment, server: Server) -> Attempt:
    return deployment.phenix("admin", on=server).verify


def every_api(deployment: Deployment, servers: Sequence[Server]) -> list[Attempt]:
    return [api(deployment, s) for s in servers for api in (strongbox, token2, phenixid)]


def all_at_once(pool: ThreadPoolExecutor, attempts: Sequence[Attempt], cred: Cred) -> int:
    """Send one code through every attempt at the same moment; how many accepted it."""
    code = cred.code()
    barrier = threading.Barrier(len(attempts))

    def go(attempt: Attempt) -> bool:
        barrier.wait(timeout=30)
        return attempt(cred, code)

    return sum(pool.map(go, attempts))
