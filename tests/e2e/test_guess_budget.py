"""Issue #9 over real HTTP: one failure count and one throttle across Token2, PhenixID and
Strongbox, the guess budget answered in each API's ordinary failure form and cleared by
`otpd credential reset` (docs/security.md), a period round trip through Strongbox PUT and
PATCH that must not re-admit a used code, and format characters refused in labels."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest

from tests.support.clients import Cred
from tests.support.deployment import Deployment, prepare, start_deployment
from tests.support.server import run_cli

CONFIG = "/v1/config/strongbox/totp"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("budget") / "data"
    settings = {
        "OTPD_GUESS_LIMIT": "4",
        "OTPD_THROTTLE_FREE_FAILURES": "2",
        "OTPD_THROTTLE_BASE_DELAY": "1",
    }
    with start_deployment(data_dir, "budget", env=settings, roles=("admin",)) as deployment:
        yield deployment


def _cred(env: Deployment, name: str, **fields: Any) -> Cred:
    """A credential made over Strongbox, with the userid Token2 knows it by."""
    cred = env.enrol(name=name, **fields)
    cred.userid = next(int(u["userid"]) for u in env.t2().listusers() if u["username"] == name)
    return cred


# Each API, one call: (status, body) as the client sees it.
def token2(env: Deployment, cred: Cred, code: str) -> tuple[int, bytes]:
    response = env.t2().get(
        "/validate", api=env.keys["admin"], token=code, userid=str(cred.userid), format="1"
    )
    return response.status_code, response.content


def phenixid(env: Deployment, cred: Cred, code: str) -> tuple[int, bytes]:
    response = env.phenix().put({"username": cred.name, "otp": code})
    return response.status_code, response.content


def strongbox(env: Deployment, cred: Cred, code: str) -> tuple[int, bytes]:
    response = env.sb().verify(cred.name, code)
    return response.status_code, response.content


APIS = (token2, phenixid, strongbox)


def _failure_forms(env: Deployment) -> dict[object, tuple[int, bytes]]:
    """Each API's ordinary answer to a wrong code, from a credential of its own."""
    probe = _cred(env, f"probe{os.getpid()}{time.monotonic_ns()}")
    return {api: api(env, probe, probe.wrong()) for api in APIS}


def _reset(env: Deployment, name: str) -> None:
    result = run_cli(
        "credential", "reset", "--tenant", "acme", name, "--data-dir", str(env.data_dir)
    )
    assert result.returncode == 0, result.stderr


def test_one_count_and_one_throttle_across_the_three_apis(env: Deployment) -> None:
    """and the guess budget: failures through Token2 and PhenixID throttle Strongbox; one
    through Strongbox and one through Token2 spend the budget of 4; then every API refuses the
    right code with the answer it gives a wrong one, until `otpd credential reset`."""
    failure = _failure_forms(env)
    cred = _cred(env, "alice@example.org")
    assert token2(env, cred, cred.wrong()) == failure[token2]
    assert phenixid(env, cred, cred.wrong()) == failure[phenixid]  # 2: backoff of 1 s
    assert strongbox(env, cred, cred.code()) == failure[strongbox]  # throttled, not evaluated
    time.sleep(1.2)
    assert strongbox(env, cred, cred.wrong()) == failure[strongbox]  # 3: backoff of 2 s
    time.sleep(2.2)
    assert token2(env, cred, cred.wrong()) == failure[token2]  # 4: the budget is spent
    time.sleep(4.5)  # past the 4 s backoff a fourth failure would set: this is the lock
    right = cred.code()
    for api in APIS:
        assert api(env, cred, right) == failure[api], api.__name__
    _reset(env, cred.name)
    status, body = token2(env, cred, right)
    assert (status, b'"validation":"true"' in body) == (200, True)
    assert strongbox(env, cred, right) == failure[strongbox]  # the reset kept it used


def test_reset_of_an_unknown_credential_fails_plainly(env: Deployment) -> None:
    result = run_cli(
        "credential", "reset", "--tenant", "acme", "nobody", "--data-dir", str(env.data_dir)
    )
    assert result.returncode == 1
    assert "no such credential" in result.stderr


def test_period_round_trip_through_put_and_patch_keeps_a_used_code_used(env: Deployment) -> None:
    cred = _cred(env, "period-trip")
    used = cred.code()
    assert env.sb().verify(cred.name, used).json() == {"valid": True}
    put = env.sb().http.put(
        f"{CONFIG}/{cred.name}", json={"name": cred.name, "period": "60s"}, headers=env.sb().auth
    )
    assert put.status_code == 204, put.text
    patch = env.sb().http.patch(
        f"{CONFIG}/{cred.name}", json={"period": "30s"}, headers=env.sb().auth
    )
    assert patch.status_code == 204, patch.text
    assert env.sb().get(f"{CONFIG}/{cred.name}").json()["period"] in ("30s", 30)
    assert env.sb().verify(cred.name, used).json() == {"valid": False}


@pytest.mark.parametrize("field", ["issuer", "account-name"])
@pytest.mark.parametrize("text", ["Bank\u202eknaB", "Ba\u200bnk", "Bank\u2066x\u2069"])
def test_format_characters_in_labels_are_400(env: Deployment, field: str, text: str) -> None:
    response = env.sb().create(f"spoof{abs(hash((field, text)))}", **{field: text})
    assert response.status_code == 400, response.text
    error = response.json()["errors"][0]["error-message"]
    assert field in error and text not in error


def test_format_characters_in_names_are_400(env: Deployment) -> None:
    response = env.sb().create("bob\u200b")
    assert response.status_code == 400, response.text


def test_used_code_stays_used_after_restart_and_kill_9(tmp_path: Path) -> None:
    """The consumed step is on disk before the answer, so neither a clean restart
    nor kill -9 of the server re-admits a used code."""
    deployment = prepare(tmp_path / "data", roles=("admin",))
    used: list[tuple[str, str]] = []
    for round_number, stop in enumerate(("stop", "kill", "last")):
        server = deployment.start(f"replay{round_number}").server
        sb = deployment.sb()
        for name, code in used:
            assert sb.verify(name, code).json() == {"valid": False}, (round_number, name)
        if stop == "last":
            deployment.close()
            break
        name = f"r{round_number}"
        secret = os.urandom(20)
        # A 2-minute period (skew 1): the code stays inside the window for the whole test.
        assert sb.create(name, secret=secret, period="2m").status_code == 201
        code = str(pyotp.TOTP(base64.b32encode(secret).decode(), interval=120).now())
        assert sb.verify(name, code).json() == {"valid": True}
        used.append((name, code))
        server.stop() if stop == "stop" else server.kill()
    assert len(used) == 2
