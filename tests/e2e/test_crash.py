"""kill -9 of the server during a burst of writes: everything acknowledged is there (
docs/requirements.md#durable-before-success)."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import httpx

from tests.support.clients import Sb
from tests.support.deployment import prepare


def test_kill_9_during_writes_keeps_every_acknowledged_write(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    acknowledged: list[str] = []
    lock = threading.Lock()
    deployment = prepare(data_dir, roles=("noreveal",))
    for round_number in range(3):
        server = deployment.start(f"crash{round_number}").server
        sb = deployment.sb("noreveal")
        stop = threading.Event()

        def writer(
            worker: int, sb: Sb = sb, stop: threading.Event = stop, rnd: int = round_number
        ) -> None:
            n = 0
            with httpx.Client(base_url=sb.http.base_url, timeout=10) as http:
                while not stop.is_set():
                    name = f"r{rnd}w{worker}n{n}"
                    n += 1
                    body = {"name": name, "passcode32": "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}
                    try:
                        response = http.post(
                            "/v1/config/strongbox/totp", json=body, headers=sb.auth
                        )
                    except httpx.HTTPError:
                        return  # killed: no answer means unknown, not acknowledged
                    if response.status_code == 201:
                        with lock:
                            acknowledged.append(name)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(random.uniform(0.5, 1.5))
        server.kill()
        stop.set()
        for thread in threads:
            thread.join()

    assert len(acknowledged) > 50, "the burst should have written something"
    with deployment.start("crash-after"):
        sb = deployment.sb("noreveal")
        listed = sb.get("/v1/config/strongbox/totp", params={"keys": "true"}).json()
        missing = sorted(set(acknowledged) - set(listed))
        assert not missing, f"acknowledged but lost: {missing[:5]}"
        # and a few of them still decrypt and produce codes
        for name in random.sample(acknowledged, 5):
            assert len(sb.code(name)) == 6
    assert os.path.exists(data_dir / "otpd.sqlite3")
