"""`otpd serve --radius-listen` as deployed: every worker serves the port (SO_REUSEPORT),
a sealed node answers nothing at all (the NAS fails over), unknown NAS addresses are
silent, and a taken port stops start-up with one line."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.harness import Server, create_client_key, run_cli
from tests.radius.conftest import free_udp_port, nas_create, pap, radclient, radius_server

STATUS = "Message-Authenticator = 0x00\n"


def test_two_workers_serve_then_seal_makes_both_silent(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seal_key = create_client_key(data_dir, "system", "sealer", ["seal"])
    create_client_key(data_dir, "acme", "admin", ["read"])
    secret = nas_create(data_dir, "--tenant", "acme", "--name", "fw", "--address", "127.0.0.1")
    port = free_udp_port()
    with radius_server(data_dir, port, "--workers", "2", name="radius-workers") as server:
        for _ in range(16):  # fresh source ports: the kernel spreads them over the workers
            result = radclient(port, secret, pap("nobody", "123456"))
            assert "Received Access-Reject" in result.stdout, result.stdout + result.stderr
        log = server.wait_for_log("radius reject")
        pids = set(re.findall(r"\[(\d+)\] radius reject", log))
        assert len(pids) == 2, "both workers answer RADIUS"
        sealed = run_cli("seal", "--url", server.url, "--key", seal_key)
        assert sealed.returncode == 0, sealed.stderr
        for _ in range(2):
            assert "Received" not in radclient(port, secret, STATUS, command="status").stdout
            assert "Received" not in radclient(port, secret, pap("nobody", "1")).stdout


def test_unknown_nas_address_is_silent_with_radclient(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    create_client_key(data_dir, "acme", "admin", ["read"])
    secret = nas_create(data_dir, "--tenant", "acme", "--name", "far", "--address", "192.0.2.0/24")
    port = free_udp_port()
    with radius_server(data_dir, port, name="radius-unknown") as server:
        for command, body in (("auth", pap("nobody", "123456")), ("status", STATUS)):
            result = radclient(port, secret, body, command=command)
            assert "Received" not in result.stdout
        assert "radius unknown-nas address=127.0.0.1" in server.wait_for_log("unknown-nas")


def test_taken_port_stops_start_up_with_one_line(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))  # no SO_REUSEPORT: nobody may share it
        port = taken.getsockname()[1]
        server = Server(tmp_path / "data", "--radius-listen", f"127.0.0.1:{port}", name="taken")
        with pytest.raises(RuntimeError, match="cannot listen for RADIUS on udp"):
            server.start(timeout=20)
