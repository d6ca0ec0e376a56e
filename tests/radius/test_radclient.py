"""FreeRADIUS's radclient (an independent RADIUS implementation) against `otpd serve
--radius-listen`: accept, reject, replay, wrong secret, missing Message-Authenticator and
Status-Server (RFC 2865, RFC 3579, RFC 5997)."""

from __future__ import annotations

from tests.support.deployment import Deployment
from tests.support.radius import new_user, pap, radclient


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_right_code_accepted_then_replay_rejected(radius: Deployment) -> None:
    user = new_user(radius)
    code = radius.sb().code(user)
    first = radclient(radius.radius_port, radius.nas["local"], pap(user, code))
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Received Access-Accept" in first.stdout
    assert "Message-Authenticator" in first.stdout.split("Received", 1)[1]
    again = radclient(radius.radius_port, radius.nas["local"], pap(user, code))
    assert "Received Access-Reject" in again.stdout  # the code is used up
    # ... and over HTTP too: one replay state for every protocol
    assert radius.sb().verify(user, code).json()["valid"] is False


def test_wrong_code_and_unknown_user_rejected_alike(radius: Deployment) -> None:
    user = new_user(radius)
    wrong = radclient(
        radius.radius_port, radius.nas["local"], pap(user, _wrong(radius.sb().code(user)))
    )
    unknown = radclient(radius.radius_port, radius.nas["local"], pap("nobody-here", "123456"))
    for result in (wrong, unknown):
        assert "Received Access-Reject" in result.stdout, result.stdout + result.stderr
        reply = result.stdout.split("Received", 1)[1]
        assert "Reply-Message" not in reply  # no reason text, ever


def test_wrong_secret_gets_no_reply(radius: Deployment) -> None:
    user = new_user(radius)
    result = radclient(
        radius.radius_port, "not-the-secret-at-all", pap(user, radius.sb().code(user))
    )
    assert "No reply from server" in result.stdout + result.stderr
    assert "Received" not in result.stdout
    log = radius.server.wait_for_log("reason=bad-message-authenticator")
    assert "radius dropped tenant=acme nas=local reason=bad-message-authenticator" in log


def test_missing_message_authenticator_gets_no_reply(radius: Deployment) -> None:
    user = new_user(radius)
    code = radius.sb().code(user)
    result = radclient(radius.radius_port, radius.nas["local"], pap(user, code, ma=False))
    assert "Received" not in result.stdout
    assert "reason=missing-message-authenticator" in radius.server.wait_for_log(
        "reason=missing-message-authenticator"
    )
    # nothing was verified: the same code still works, signed
    assert (
        "Received Access-Accept"
        in radclient(radius.radius_port, radius.nas["local"], pap(user, code)).stdout
    )


def test_status_server_answered(radius: Deployment) -> None:
    result = radclient(
        radius.radius_port, radius.nas["local"], "Message-Authenticator = 0x00\n", command="status"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Received Access-Accept" in result.stdout


def test_status_server_with_wrong_secret_is_silent(radius: Deployment) -> None:
    result = radclient(
        radius.radius_port, "wrong", "Message-Authenticator = 0x00\n", command="status"
    )
    assert "Received" not in result.stdout
