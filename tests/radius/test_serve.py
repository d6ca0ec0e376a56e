"""`otpd serve --radius-listen` as deployed: every worker serves the port (SO_REUSEPORT),
a sealed node answers nothing at all (the NAS fails over), unknown NAS addresses are
silent, and a taken port stops start-up with one line."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest

from tests.support.deployment import prepare, start_deployment
from tests.support.radius import pap, radclient
from tests.support.server import Server, free_port, register_secret, run_cli

STATUS = "Message-Authenticator = 0x00\n"


def test_two_workers_serve_then_seal_makes_both_silent(tmp_path: Path) -> None:
    with start_deployment(
        tmp_path / "data", "radius-workers", "--workers", "2", roles=("sealer", "reader"),
        nas={"fw": ("--address", "127.0.0.1")}, radius=True,
    ) as deployment:  # fmt: skip
        server, port = deployment.server, deployment.radius_port
        seal_key, secret = deployment.keys["sealer"], deployment.nas["fw"]
        for _ in range(16):  # fresh source ports: the kernel spreads them over the workers
            result = radclient(port, secret, pap("nobody", "123456"))
            assert "Received Access-Reject" in result.stdout, result.stdout + result.stderr
        log = server.wait_for_log("radius reject")
        pids = set(re.findall(r"\[(\d+)\] radius reject", log))
        assert len(pids) == 2, "both workers answer RADIUS"
        sealed = run_cli("seal", "--url", server.url, env={"OTPD_KEY": seal_key})
        assert sealed.returncode == 0, sealed.stderr
        for _ in range(2):
            assert "Received" not in radclient(port, secret, STATUS, command="status").stdout
            assert "Received" not in radclient(port, secret, pap("nobody", "1")).stdout


def test_unknown_nas_address_is_silent_with_radclient(tmp_path: Path) -> None:
    with start_deployment(
        tmp_path / "data", "radius-unknown", roles=("reader",),
        nas={"far": ("--address", "192.0.2.0/24")}, radius=True,
    ) as deployment:  # fmt: skip
        server, port, secret = deployment.server, deployment.radius_port, deployment.nas["far"]
        for command, body in (("auth", pap("nobody", "123456")), ("status", STATUS)):
            result = radclient(port, secret, body, command=command)
            assert "Received" not in result.stdout
        assert "radius unknown-nas address=127.0.0.1" in server.wait_for_log("unknown-nas")


@pytest.mark.parametrize("reuse_port", [False, True])
def test_taken_port_stops_start_up_with_one_line(tmp_path: Path, reuse_port: bool) -> None:
    """Taken by another program, or by another otpd node (whose workers bind with
    SO_REUSEPORT): refused either way, never shared."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        if reuse_port:
            taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        server = Server(tmp_path / "data", "--radius-listen", f"127.0.0.1:{port}", name="taken")
        with pytest.raises(RuntimeError, match="cannot listen for RADIUS on udp"):
            server.start(timeout=20)


def test_shamir_node_serves_radius_only_while_unsealed(tmp_path: Path) -> None:
    """A NAS made in Shamir mode (shares on standard input), a restarted node silent until
    unsealed, silent again once sealed, and serving again after the next unseal."""
    data_dir = tmp_path / "data"
    sealed = prepare(data_dir, roles=("reader", "sealer"), shares=(3, 2))
    shares, seal_key = sealed.shares, sealed.keys["sealer"]
    args = ["nas", "create", "--tenant", "acme", "--name", "fw", "--address", "::1", "--json"]
    refused = run_cli(*args, "--data-dir", str(data_dir))
    assert refused.returncode == 1 and "give the unseal shares" in refused.stderr
    made = run_cli(*args, "--data-dir", str(data_dir), input="\n".join(shares[:2]) + "\n")
    assert made.returncode == 0, made.stderr
    secret = json.loads(made.stdout)["secret"]
    register_secret(secret.encode())
    port = free_port(udp=True, host="::1")
    server = Server(data_dir, "--radius-listen", f"[::1]:{port}", name="radius-shamir")
    with server:

        def status() -> str:
            return radclient(port, secret, STATUS, command="status", host="[::1]").stdout

        assert "Received" not in status()  # a restarted Shamir node is sealed
        for share in shares[1:]:
            run_cli("unseal", "--url", server.url, input=share + "\n")
        assert "Received Access-Accept" in status()
        assert run_cli("seal", "--url", server.url, env={"OTPD_KEY": seal_key}).returncode == 0
        assert "Received" not in status()
        for share in shares[:2]:
            run_cli("unseal", "--url", server.url, input=share + "\n")
        assert "Received Access-Accept" in status()
