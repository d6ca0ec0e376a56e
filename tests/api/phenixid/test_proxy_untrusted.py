"""The proxy header is believed only from `trusted_proxies` (ASVS v5 15.3.4): with only
10.9.9.9 trusted, the same header from 127.0.0.1 is ignored."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.clients import phenix_put as put
from tests.support.deployment import CERT_SUBJECT as SUBJECT
from tests.support.deployment import Deployment, start_deployment


@pytest.fixture(scope="module")
def px(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Tenant certs: client-certificate mode, SUBJECT allowed."""
    env = {"OTPD_TRUSTED_PROXIES": "10.9.9.9", "OTPD_CLIENT_CERT_HEADER": "X-Client-DN"}
    data_dir = tmp_path_factory.mktemp("phenixid-proxy") / "data"
    px = start_deployment(data_dir, "phenixid-proxy", env=env, roles=("certs",))
    yield px
    px.close()


def test_header_from_an_untrusted_peer_is_ignored(px: Deployment) -> None:
    cred = px.enrol("certs")
    body = {"username": cred.name, "otp": cred.code()}
    with px.http() as http:
        for header in ("X-Client-DN", "X-SSL-Client-S-DN", "X-Forwarded-For"):
            value = "10.9.9.9" if header == "X-Forwarded-For" else SUBJECT
            assert put(http, body, tenant="certs", headers={header: value}).status_code == 403
        spoofed = {"X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.9.9.9", "X-Client-DN": SUBJECT}
        assert put(http, body, tenant="certs", headers=spoofed).status_code == 403
