"""Group commit (issue #12) did not cost safety: real servers on real files.

- kill -9 during a burst of verifications: every acknowledged acceptance is still consumed and
  every acknowledged failure still counted;
- two instances of two workers each on one data directory: one winner per step, 1,000 rounds;
- a write that fails inside a batch fails only its own request, in its API's error form.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support.clients import Cred, phenix_put
from tests.support.deployment import start_deployment
from tests.support.scale import every_api

PERIOD = 30  # the credentials Token2 createuser makes


def step_now() -> int:
    return int(time.time()) // PERIOD


def rows(data_dir: Path) -> dict[str, tuple[int, int, int]]:
    """name -> (last_step, failures, refused), read from the file by a fresh connection."""
    with closing(sqlite3.connect(data_dir / "otpd.sqlite3")) as conn:
        sql = "SELECT name, last_step, failures, refused FROM credential"
        return {
            name: (step, failures, refused) for name, step, failures, refused in conn.execute(sql)
        }


def phenix_status(http: httpx.Client, auth: str, name: str, code: str) -> int:
    """PhenixID otp_token_auth: 200 accepted, 403 rejected; 0 when there was no answer."""
    try:
        return phenix_put(http, {"username": name, "otp": code}, auth=auth).status_code
    except httpx.HTTPError:
        return 0  # killed: unknown, not acknowledged


def test_kill_9_during_a_verification_burst_keeps_every_acknowledged_outcome(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    env = {"OTPD_THROTTLE_FREE_FAILURES": "100"}  # wrong codes are counted, not throttled
    cluster = start_deployment(data_dir, "gc-kill", "--workers", "2", env=env, roles=("admin",))
    server, auth = cluster.server, cluster.basic("admin")
    good, bad = cluster.createusers(48), cluster.createusers(8)
    accepted: list[tuple[Cred, int]] = []  # acknowledged acceptances: (credential, step)
    rejected: Counter[str] = Counter()  # acknowledged failures per credential name
    lock = threading.Lock()
    stop = threading.Event()

    def burst(worker: int) -> None:
        mine = good[worker::8]
        with httpx.Client(base_url=server.url, timeout=30) as http:
            for offset in (-1, 0, 1):  # three steps of the window, one after another
                for cred in mine:
                    if stop.is_set():
                        return
                    step = step_now() + offset
                    status = phenix_status(http, auth, cred.name, cred.at(step))
                    wrong = phenix_status(http, auth, bad[worker].name, "000000")
                    with lock:
                        if status == 200:
                            accepted.append((cred, step))
                        if wrong == 403:
                            rejected[bad[worker].name] += 1

    threads = [threading.Thread(target=burst, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(random.uniform(1.0, 2.0))
    server.kill()
    stop.set()
    for thread in threads:
        thread.join()

    assert len(accepted) > 20, "the burst should have verified something"
    assert sum(rejected.values()) > 10, "the burst should have failed something"
    with cluster.start("gc-kill-after", env=env):
        again = cluster.server
        state = rows(data_dir)
        for cred, step in accepted:
            assert state[cred.name][0] >= step, f"acknowledged step {step} of {cred.name} lost"
        for name, count in rejected.items():
            _, failures, refused = state[name]
            assert failures + refused >= count, f"acknowledged failures of {name} lost"
        # Over HTTP too: each acknowledged code still in the window is refused as a replay.
        with httpx.Client(base_url=again.url, timeout=30) as http:
            for cred, step in accepted:
                if step >= step_now() - 1:
                    assert phenix_status(http, auth, cred.name, cred.at(step)) == 403


@pytest.mark.slow
def test_one_winner_per_step_in_1000_rounds_on_two_instances_of_two_workers(
    tmp_path: Path,
) -> None:
    # The five losers of each round count failures (a replay is one): room for three rounds.
    env = {"OTPD_THROTTLE_FREE_FAILURES": "100"}
    cluster = start_deployment(
        tmp_path / "data", "gc-pair", "--workers", "2", env=env, roles=("admin",), instances=2
    )
    try:
        creds = cluster.createusers(334)  # three rounds each: 1,002
        attempts = every_api(cluster, cluster.servers)  # 2 instances x 3 APIs
        outcomes: list[tuple[int, bool]] = []  # (winners, whole round within one step)
        inner = ThreadPoolExecutor(8 * len(attempts))

        def rounds(cred: Cred) -> None:
            for offset in (-1, 0, 1):
                before = step_now()
                code = cred.at(before + offset)
                barrier = threading.Barrier(len(attempts))

                def go(
                    attempt: object, code: str = code, barrier: threading.Barrier = barrier
                ) -> bool:
                    barrier.wait(timeout=60)
                    return attempt(cred, code)  # type: ignore[operator,no-any-return]

                winners = sum(inner.map(go, attempts))
                outcomes.append((winners, step_now() == before))

        with ThreadPoolExecutor(8) as outer:
            list(outer.map(rounds, creds))
        inner.shutdown()
    finally:
        cluster.close()
    assert len(outcomes) == 1002
    # Never two winners; exactly one whenever the round's step stayed in the window (a
    # round that crossed a step boundary may have sent a code that just left it).
    assert max(winners for winners, _ in outcomes) == 1
    steady = [winners for winners, same_step in outcomes if same_step]
    assert len(steady) > 900
    assert steady == [1] * len(steady)


def test_a_failing_write_in_a_batch_fails_only_its_own_request(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with start_deployment(data_dir, "gc-poison", "--workers", "2", roles=("admin",)) as cluster:
        server = cluster.server
        creds = cluster.createusers(40)
        poisoned = creds[0]
        with closing(sqlite3.connect(data_dir / "otpd.sqlite3")) as conn:
            conn.execute(  # a constraint that refuses every write to one credential
                "CREATE TRIGGER poison BEFORE UPDATE ON credential"
                f" WHEN OLD.name = '{poisoned.name}' BEGIN SELECT RAISE(ABORT, 'no'); END"
            )
            conn.commit()
        step = step_now()
        barrier = threading.Barrier(len(creds) * 2)
        token = cluster.sb().token

        def verify(job: tuple[Cred, bool]) -> httpx.Response:
            cred, right = job
            code = cred.at(step) if right else "000000"
            with httpx.Client(base_url=server.url, timeout=30) as http:
                barrier.wait(timeout=60)
                return http.post(
                    f"/v1/state/strongbox/totp/{cred.name}/verify-code",
                    json={"code": code},
                    headers={"Authorization": f"Bearer {token}"},
                )

        jobs = [(cred, right) for cred in creds for right in (True, False)]
        with ThreadPoolExecutor(len(jobs)) as pool:
            answers = list(pool.map(verify, jobs))
        for (cred, _), response in zip(jobs, answers, strict=True):
            if cred is poisoned:
                assert response.status_code == 503, response.text
                assert response.json()["errors"][0]["error-message"] == "storage unavailable"
            else:
                assert response.status_code == 200, response.text
    state = rows(data_dir)
    assert state[poisoned.name] == (-1, 0, 0)  # nothing of the failed writes reached the file
    for (cred, right), response in zip(jobs, answers, strict=True):
        if cred is not poisoned:
            assert response.json() == {"valid": right}
            if right:  # acknowledged, so on disk
                assert state[cred.name][0] == step
