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

from tests.support.pgserver import PgServer
from tests.support.scale import (
    Cluster,
    all_at_once,
    cli,
    create_admin,
    create_sealer,
    every_api,
    share_seal_key,
    strongbox,
)
from tests.support.server import Server, run_cli

ENV = {"OTPD_THROTTLE_BASE_DELAY": "300"}


def _health(server: Server) -> tuple[int, object]:
    response = httpx.get(server.url + "/healthz", timeout=10)
    return response.status_code, response.json()


@pytest.fixture(scope="module")
def trio(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cluster, str]]:
    url = pg_server.create_database("trio")
    root = tmp_path_factory.mktemp("trio")
    nodes = [root / f"node{i}" for i in range(3)]
    key = create_admin(nodes[0], url)  # the first command creates the keyring and seal.key
    share_seal_key(nodes[0], *nodes[1:])
    servers = [Server(n, "--database", url, env=ENV, name=f"pg{i}") for i, n in enumerate(nodes)]
    cluster = Cluster([s.start() for s in servers], key)
    yield cluster, url
    for server in servers:
        server.stop()


@pytest.mark.slow
def test_one_winner_per_code_on_three_instances(trio: tuple[Cluster, str]) -> None:
    cluster, _url = trio
    creds = cluster.create_creds(300)
    attempts = every_api(cluster, cluster.servers)  # 3 instances x 3 APIs
    with ThreadPoolExecutor(len(attempts)) as pool:
        accepted = [all_at_once(pool, attempts, cred) for cred in creds]
    assert accepted == [1] * len(creds)


def test_failures_on_three_instances_share_one_budget(trio: tuple[Cluster, str]) -> None:
    cluster, _url = trio
    cred = cluster.create_creds(1)[0]
    attempts = every_api(cluster, cluster.servers)
    wrong = "000000" if cred.code() != "000000" else "111111"
    for attempt in attempts[:6]:  # two failures per instance, six in all
        assert not attempt(cred, wrong)
    assert not attempts[-1](cred, cred.code())  # throttled everywhere: one budget of five


def test_the_database_holds_every_piece_of_state(trio: tuple[Cluster, str]) -> None:
    """A bearer token from one instance works on another; a code used on one is refused on
    the others; the admin CLI works on the same --database."""
    cluster, url = trio
    first, second, third = cluster.servers
    cred = cluster.create_creds(1)[0]
    token = cluster.token(first)
    with httpx.Client(base_url=second.url, timeout=10) as http:
        path = f"/v1/state/strongbox/totp/{cred.name}/verify-code"
        auth = {"Authorization": f"Bearer {token}"}
        code = cred.code()
        assert http.post(path, json={"code": code}, headers=auth).json() == {"valid": True}
    assert not strongbox(cluster, third)(cred, code)
    shown = json.loads(cli(third.data_dir, url, "tenant", "show", "acme"))
    assert shown["tenant"] == "acme"


def test_stopping_one_instance_leaves_the_others_serving(
    pg_server: PgServer, tmp_path: Path
) -> None:
    url = pg_server.create_database("stop")
    nodes = [tmp_path / f"node{i}" for i in range(3)]
    key = create_admin(nodes[0], url)
    share_seal_key(nodes[0], *nodes[1:])
    servers = [Server(n, "--database", url, name=f"st{i}").start() for i, n in enumerate(nodes)]
    try:
        cluster = Cluster(servers, key)
        creds = cluster.create_creds(2)
        servers[0].stop()
        assert [_health(s) for s in servers[1:]] == [(200, {"status": "ok"})] * 2
        assert strongbox(cluster, servers[1])(creds[0], creds[0].code())
        servers[1].kill()  # even kill -9
        assert strongbox(cluster, servers[2])(creds[1], creds[1].code())
    finally:
        for server in servers:
            server.stop()


def _unseal(server: Server, share: str) -> str:
    result = run_cli("unseal", "--url", server.url, input=share + "\n")
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[0]  # a ceremony in progress adds its nonce on a 2nd line


def test_shamir_nodes_unseal_and_seal_one_by_one(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create_database("shamir")
    nodes = [tmp_path / "node0", tmp_path / "node1"]
    init = cli(nodes[0], url, "init", "--shares", "3", "--threshold", "2", "--json")
    shares = json.loads(init)["shares"]
    key = create_admin(nodes[0], url)
    sealer = create_sealer(nodes[0], url)
    servers = [Server(n, "--database", url, name=f"sh{i}").start() for i, n in enumerate(nodes)]
    try:
        one, two = servers
        assert _health(one) == _health(two) == (503, {"status": "sealed"})
        assert _unseal(one, shares[0]) == "sealed: 1 of 2 shares given"
        assert _unseal(one, shares[2]) == "unsealed"
        assert _health(one) == (200, {"status": "ok"})
        assert _health(two) == (503, {"status": "sealed"})  # its own shares, as in Vault
        cluster = Cluster(servers, key)
        cred = cluster.create_creds(1)[0]
        assert _unseal(two, shares[1]) == "sealed: 1 of 2 shares given"
        assert _unseal(two, shares[0]) == "unsealed"
        sealed = run_cli("seal", "--url", one.url, input=sealer + "\n")
        assert sealed.returncode == 0, sealed.stderr
        assert _health(one) == (503, {"status": "sealed"})
        assert _health(two) == (200, {"status": "ok"})
        assert strongbox(cluster, two)(cred, cred.code())
    finally:
        for server in servers:
            server.stop()
