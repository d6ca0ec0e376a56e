"""docs/scale-out.md, followed: three instances on one PostgreSQL behind nginx, with the nginx
configuration taken from the document itself (only the ports changed)."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.deployment import Deployment, start_deployment
from tests.support.pgserver import PgServer
from tests.support.scale import strongbox, token2
from tests.support.server import Server, free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "scale-out.md"


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
    return Path(exe), free_port()


def test_three_instances_behind_nginx_as_documented(
    pg_server: PgServer, tmp_path: Path, nginx: tuple[Path, int]
) -> None:
    exe, listen = nginx
    url = pg_server.create_database("nginx")
    with start_deployment(
        tmp_path / "node", "ngx", roles=("admin",), database=url, instances=3
    ) as cluster:
        _behind_nginx(cluster, tmp_path, exe, listen)


def _behind_nginx(cluster: Deployment, tmp_path: Path, exe: Path, listen: int) -> None:
    servers = cluster.servers
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
        creds = cluster.createusers(6, on=front)
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
