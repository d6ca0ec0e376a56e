"""The server's own behaviour over real HTTP: health, request ids, body cap, errors, logs."""

from __future__ import annotations

import os
import secrets
import socket
import threading
import urllib.parse

import httpx

from tests.support.deployment import Deployment as Running
from tests.support.deployment import start_deployment


def test_healthz_and_request_ids(running: Running) -> None:
    with running.server.client() as http:
        first = http.get("/healthz")
        second = http.get("/healthz")
    assert first.status_code == 200 and first.json() == {"status": "ok"}
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)


def test_body_cap_answers_413_in_the_api_format(running: Running) -> None:
    big = "x" * (64 * 1024 + 1)
    with running.server.client() as http:
        declared = http.post("/v1/config/strongbox/totp", content=big, headers=running.sb().auth)

        def chunks():  # no Content-Length: the cap must hold while streaming
            for _ in range(100):
                yield b"y" * 1024

        streamed = http.post(
            "/v1/config/strongbox/totp", content=chunks(), headers=running.sb().auth
        )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["errors"][0]["error-message"]
        assert response.json()["errors"][0]["error-info"] == {}


def test_unknown_paths_and_methods(running: Running) -> None:
    with running.server.client() as http:
        missing = http.get("/v1/nothing/here")
        wrong_method = http.delete("/healthz")
        trace = http.request("TRACE", "/v1/config/strongbox/totp")
    assert missing.status_code == 404 and "errors" in missing.json()
    assert wrong_method.status_code == 405 and "GET" in wrong_method.headers["allow"]
    assert trace.status_code == 405


def test_access_log_has_no_query_strings(running: Running) -> None:
    marker = "Q" + secrets.token_hex(8)
    with running.server.client() as http:
        http.get(f"/healthz?api_key={marker}&token=123456")
        http.get(f"/validate?api={marker}")
        http.get("/healthz?last=1")
    log = running.server.wait_for_log("GET /healthz 200", timeout=10)
    log = running.server.wait_for_log("GET /validate ", timeout=10)
    assert "/healthz" in log
    assert marker not in log


def test_log_injection_stays_one_record(running: Running) -> None:
    marker = secrets.token_hex(6)
    with running.server.client() as http:
        http.get(f"/v1/x%0aFAKE-{marker}%1b[31m")
    log = running.server.wait_for_log(marker)
    lines = [line for line in log.splitlines() if marker in line]
    assert len(lines) == 1
    assert "\x1b" not in lines[0] and lines[0].startswith("20")


def test_two_workers_share_replay_state(tmp_path) -> None:
    """--workers 2: one data directory, one SQLite file; a code is accepted once across both."""
    with start_deployment(
        tmp_path / "data", "workers", "--workers", "2", roles=("noreveal",)
    ) as deployment:
        server, sb = deployment.server, deployment.sb("noreveal")
        pids: set[str] = set()
        for i in range(20):
            assert sb.create(f"user{i}", secret=os.urandom(20)).status_code == 201
        results: list[bool] = []
        lock = threading.Lock()

        def burst(name: str, code: str) -> None:
            with httpx.Client(base_url=server.url, timeout=30) as http:
                r = http.post(
                    f"/v1/state/strongbox/totp/{name}/verify-code",
                    json={"code": code},
                    headers=sb.auth,
                )
                with lock:
                    results.append(r.json()["valid"])

        for i in range(20):
            code = sb.code(f"user{i}")
            results.clear()
            threads = [threading.Thread(target=burst, args=(f"user{i}", code)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results.count(True) == 1, results
        log = server.log()
        pids = {
            line.split("[")[1].split("]")[0] for line in log.splitlines() if "otpd.access" in line
        }
        assert len(pids) >= 2, "both workers should have served requests"


def _raw_status(url: str, request_line: str, headers: str = "") -> int:
    """httpx refuses to send a 100 kB URL, so talk HTTP/1.1 over a plain socket."""
    parsed = urllib.parse.urlsplit(url)
    with socket.create_connection((parsed.hostname, parsed.port), timeout=10) as sock:
        sock.sendall(f"{request_line} HTTP/1.1\r\nHost: x\r\n{headers}\r\n".encode())
        reply = sock.recv(65536).decode("latin-1")
    return int(reply.split(" ", 2)[1])


def test_oversized_headers_and_urls_are_refused(running: Running) -> None:
    url = running.server.url
    assert _raw_status(url, "GET /healthz", "X-Big: " + "a" * 1_000_000 + "\r\n") == 431
    # 414 as the URL arrives (max_url_bytes, web/protocol.py)
    assert _raw_status(url, "GET /v1/" + "a" * 100_000) == 414
    params = "&".join(f"p{i}=1" for i in range(10_000))
    assert _raw_status(url, "GET /validate?" + params) == 414
    with running.server.client() as http:
        assert http.get("/healthz").status_code == 200  # and the server is fine
