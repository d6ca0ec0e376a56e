"""Three `otpd serve` on one PostgreSQL, each with its own data directory (issue #11): one
winner per code over every instance and API, one throttle budget, Shamir nodes unsealed one
by one, and an instance stopping or sealing without touching the others."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.deployment import Deployment, start_deployment
from tests.support.pgserver import PgServer
from tests.support.scale import all_at_once, every_api, strongbox
from tests.support.server import operator, run_cli, unseal

ENV = {"OTPD_THROTTLE_BASE_DELAY": "300"}


@pytest.fixture(scope="module")
def trio(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    url = pg_server.create_database("trio")
    data_dir = tmp_path_factory.mktemp("trio") / "node"
    deployment = start_deployment(
        data_dir, "pg", env=ENV, roles=("admin",), instances=3, database=url
    )
    yield deployment
    deployment.close()


@pytest.mark.slow
def test_one_winner_per_code_on_three_instances(trio: Deployment) -> None:
    cluster = trio
    creds = cluster.createusers(300)
    attempts = every_api(cluster, cluster.servers)  # 3 instances x 3 APIs
    with ThreadPoolExecutor(len(attempts)) as pool:
        accepted = [all_at_once(pool, attempts, cred) for cred in creds]
    assert accepted == [1] * len(creds)


def test_failures_on_three_instances_share_one_budget(trio: Deployment) -> None:
    cluster = trio
    cred = cluster.createusers(1)[0]
    attempts = every_api(cluster, cluster.servers)
    wrong = "000000" if cred.code() != "000000" else "111111"
    for attempt in attempts[:6]:  # two failures per instance, six in all
        assert not attempt(cred, wrong)
    assert not attempts[-1](cred, cred.code())  # throttled everywhere: one budget of five


def test_the_database_holds_every_piece_of_state(trio: Deployment) -> None:
    """A bearer token from one instance works on another; a code used on one is refused on
    the others; the admin CLI works on the same --database."""
    cluster, url = trio, trio.database
    assert url is not None
    first, second, third = cluster.servers
    cred = cluster.createusers(1)[0]
    token = cluster.sb(on=first).token
    with httpx.Client(base_url=second.url, timeout=10) as http:
        path = f"/v1/state/strongbox/totp/{cred.name}/verify-code"
        auth = {"Authorization": f"Bearer {token}"}
        code = cred.code()
        assert http.post(path, json={"code": code}, headers=auth).json() == {"valid": True}
    assert not strongbox(cluster, third)(cred, code)
    shown = json.loads(operator("tenant", "show", "acme", "--data-dir", str(third.data_dir),
                                "--database", url))  # fmt: skip
    assert shown["tenant"] == "acme"


def test_stopping_one_instance_leaves_the_others_serving(
    pg_server: PgServer, tmp_path: Path
) -> None:
    url = pg_server.create_database("stop")
    cluster = start_deployment(tmp_path / "node", "st", roles=("admin",), instances=3, database=url)
    servers = cluster.servers
    try:
        creds = cluster.createusers(2)
        servers[0].stop()
        assert [s.health() for s in servers[1:]] == [(200, {"status": "ok"})] * 2
        assert strongbox(cluster, servers[1])(creds[0], creds[0].code())
        servers[1].kill()  # even kill -9
        assert strongbox(cluster, servers[2])(creds[1], creds[1].code())
    finally:
        cluster.close()


def test_shamir_nodes_unseal_and_seal_one_by_one(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create_database("shamir")
    cluster = start_deployment(
        tmp_path / "node", "sh", roles=("admin", "sealer"), instances=2, database=url,
        shares=(3, 2),
    )  # fmt: skip
    shares, sealer = cluster.shares, cluster.keys["sealer"]
    try:
        one, two = cluster.servers
        assert one.health() == two.health() == (503, {"status": "sealed"})
        assert unseal(one.url, shares[0]) == "sealed: 1 of 2 shares given"
        assert unseal(one.url, shares[2]) == "unsealed"
        assert one.health() == (200, {"status": "ok"})
        assert two.health() == (503, {"status": "sealed"})  # its own shares, as in Vault
        cred = cluster.createusers(1)[0]
        assert unseal(two.url, shares[1]) == "sealed: 1 of 2 shares given"
        assert unseal(two.url, shares[0]) == "unsealed"
        sealed = run_cli("seal", "--url", one.url, input=sealer + "\n")
        assert sealed.returncode == 0, sealed.stderr
        assert one.health() == (503, {"status": "sealed"})
        assert two.health() == (200, {"status": "ok"})
        assert strongbox(cluster, two)(cred, cred.code())
    finally:
        cluster.close()
