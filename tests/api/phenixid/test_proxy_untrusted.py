"""The proxy header is believed only from `trusted_proxies` (ASVS v5 15.3.4): with only
10.9.9.9 trusted, the same header from 127.0.0.1 is ignored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.phenixid import Px, put, start, tenant_cli

SUBJECT = "CN=gateway,O=Acme AB,C=SE"


@pytest.fixture(scope="module")
def px(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Px]:
    def setup(data_dir: Path) -> None:
        tenant_cli(
            "create", data_dir, "ot", "--phenixid-auth", "client-cert",
            "--client-cert-subject", SUBJECT,
        )  # fmt: skip

    env = {"OTPD_TRUSTED_PROXIES": "10.9.9.9", "OTPD_CLIENT_CERT_HEADER": "X-Client-DN"}
    px = start(tmp_path_factory, "phenixid-proxy", env=env, setup=setup)
    yield px
    px.close()


def test_header_from_an_untrusted_peer_is_ignored(px: Px) -> None:
    cred = px.cred("ot")
    body = {"username": cred.name, "otp": cred.code()}
    with px.server.client() as http:
        for header in ("X-Client-DN", "X-SSL-Client-S-DN", "X-Forwarded-For"):
            value = "10.9.9.9" if header == "X-Forwarded-For" else SUBJECT
            assert put(http, body, headers={header: value}).status_code == 403
        spoofed = {"X-Forwarded-For": "10.9.9.9", "X-Real-IP": "10.9.9.9", "X-Client-DN": SUBJECT}
        assert put(http, body, headers=spoofed).status_code == 403
