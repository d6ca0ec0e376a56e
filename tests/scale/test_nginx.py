"""docs/scale-out.md, followed: three instances on one PostgreSQL behind nginx, with the nginx
configuration taken from the document itself (only the ports changed)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.pgserver import PgServer
from tests.support.scale import Cluster, create_admin, share_seal_key, strongbox, token2
from tests.support.server import Server

DOC = Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _nginx_conf(ports: list[int], listen: int, root: Path) -> str:
    block = re.search(r"```nginx\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert block is not None, "docs/scale-out.md lost its nginx example"
    site = block.group(1).replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    for documented, actual in zip(("8081", "8082", "8083"), ports, strict=True):
        site = site.replace(f"127.0.0.1:{documented}", f"127.0.0.1:{actual}")
    temp = " ".join(
        f"{kind}_temp_path {root / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    temp += f" uwsgi_temp_path {root / 'uwsgi'}; scgi_temp_path {root / 'scgi'};"
    return (
        f"pid {root / 'nginx.pid'}; error_log {root / 'error.log'};\n"
        "events { worker_connections 256; }\n"
        f"http {{ access_log off; {temp}\n{site}}}\n"
    )


@pytest.fixture
def nginx() -> tuple[Path, int]:
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(exe).exists(), "nginx is required (Debian package nginx-light; scripts/test)"
    return Path(exe), _free_port()


def test_three_instances_behind_nginx_as_documented(
    pg_server: PgServer, tmp_path: Path, nginx: tuple[Path, int]
) -> None:
    exe, listen = nginx
    url = pg_server.create_database("nginx")
    nodes = [tmp_path / f"node{i}" for i in (1, 2, 3)]
    key = create_admin(nodes[0], url)
    share_seal_key(nodes[0], *nodes[1:])
    servers = [Server(n, "--database", url, name=f"ngx{i}").start() for i, n in enumerate(nodes)]
    root = tmp_path / "nginx"
    root.mkdir()
    ports = [int(s.url.rsplit(":", 1)[1]) for s in servers]
    (root / "nginx.conf").write_text(_nginx_conf(ports, listen, root))
    proxy = subprocess.Popen(
        [str(exe), "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
        stderr=subprocess.PIPE,
        text=True,
    )
    front = Server(tmp_path / "unused", name="nginx-front")
    front.url = f"http://127.0.0.1:{listen}"
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                health = httpx.get(front.url + "/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert proxy.poll() is None, proxy.stderr.read() if proxy.stderr else ""
                time.sleep(0.1)
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        cluster = Cluster([front], key)
        creds = cluster.create_creds(6)
        via_sb, via_t2 = strongbox(cluster, front), token2(cluster, front)
        for cred in creds[:3]:
            code = cred.code()
            assert via_sb(cred, code)
            assert not via_t2(cred, code)  # whichever instance nginx picks: refused
        servers[0].stop()
        servers[1].kill()
        for cred in creds[3:]:  # nginx moves on to the instance still running
            assert via_t2(cred, cred.code())
    finally:
        proxy.terminate()
        proxy.wait(timeout=20)
        for server in servers:
            server.stop()
