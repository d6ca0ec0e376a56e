"""Native TLS with client certificates: `otpd serve --tls-cert --tls-key --tls-client-ca`,
certificates made by trustme (issue #6). The subject of a verified client certificate is
matched against the tenant's allow-list; a missing certificate, or one from another CA, never
gets past the TLS handshake."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme

from tests.support.clients import Sb
from tests.support.phenixid import PATH, Px, put, start, tenant_cli

ORG = "Acme AB"
UNIT = "Payments"
SUBJECT = f"CN=client-a,OU={UNIT},O={ORG}"


@dataclass
class Pki:
    ca: trustme.CA
    good: trustme.LeafCert  # subject on the allow-list
    unlisted: trustme.LeafCert  # same CA, subject not on the list
    foreign: trustme.LeafCert  # the listed subject, from another CA

    def context(self, leaf: trustme.LeafCert | None) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        if leaf is not None:
            leaf.configure_cert(context)
        return context


def _leaf(ca: trustme.CA, name: str) -> trustme.LeafCert:
    return ca.issue_cert(
        f"{name}.example.org", common_name=name, organization_name=ORG, organization_unit_name=UNIT
    )


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca = trustme.CA()
    return Pki(ca, _leaf(ca, "client-a"), _leaf(ca, "client-b"), _leaf(trustme.CA(), "client-a"))


@pytest.fixture(scope="module")
def px(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Px]:
    files: Path = tmp_path_factory.mktemp("tls")
    server_cert = pki.ca.issue_cert("127.0.0.1", "localhost")
    server_cert.private_key_pem.write_to_path(str(files / "server.key"))
    server_cert.cert_chain_pems[0].write_to_path(str(files / "server.pem"))
    pki.ca.cert_pem.write_to_path(str(files / "clients-ca.pem"))

    def setup(data_dir: Path) -> None:
        tenant_cli(
            "create", data_dir, "ot", "--phenixid-auth", "client-cert",
            "--client-cert-subject", SUBJECT,
        )  # fmt: skip
        tenant_cli("create", data_dir, "basic")

    px = start(
        tmp_path_factory,
        "phenixid-tls",
        "--tls-cert", str(files / "server.pem"),
        "--tls-key", str(files / "server.key"),
        "--tls-client-ca", str(files / "clients-ca.pem"),
        setup=setup,
    )  # fmt: skip
    px.client("basic", "app", ["verify"])
    for tenant in ("ot", "basic"):  # Strongbox over the same port needs a certificate too
        key = px.client(tenant, "sb-admin", ["read", "write"])
        px.admins[tenant] = _login(_client(px, pki, pki.good), "sb-admin", key)
    yield px
    px.close()


def _client(px: Px, pki: Pki, leaf: trustme.LeafCert | None) -> httpx.Client:
    return httpx.Client(base_url=px.url, verify=pki.context(leaf), timeout=30)


def _login(http: httpx.Client, name: str, key: str) -> Sb:
    response = http.post("/v1/login", json={"username": name, "password": key})
    assert response.status_code == 200, response.text
    return Sb(http, response.json()["token"])


def test_announces_https(px: Px) -> None:
    assert px.url.startswith("https://127.0.0.1:")


def test_good_certificate_on_the_list_verifies(px: Px, pki: Pki) -> None:
    cred = px.cred("ot")
    with _client(px, pki, pki.good) as http:
        assert http.get("/healthz").status_code == 200
        first = put(http, {"username": cred.name, "otp": cred.code()})
        again = put(http, {"username": cred.name, "otp": cred.code()})
    assert (first.status_code, first.content) == (200, b"")
    assert again.status_code == 403


def test_subject_not_on_the_list_is_403(px: Px, pki: Pki) -> None:
    cred = px.cred("ot")
    with _client(px, pki, pki.unlisted) as http:
        response = put(http, {"username": cred.name, "otp": cred.code()})
        # an untrusted peer's header does not stand in for the certificate
        spoofed = put(
            http,
            {"username": cred.name, "otp": cred.code()},
            headers={"X-SSL-Client-S-DN": SUBJECT},
        )
    assert (response.status_code, response.content) == (403, b"")
    assert spoofed.status_code == 403


@pytest.mark.parametrize("which", ["none", "foreign"])
def test_no_certificate_or_another_ca_fails_the_handshake(px: Px, pki: Pki, which: str) -> None:
    leaf = None if which == "none" else pki.foreign
    with _client(px, pki, leaf) as http, pytest.raises(httpx.TransportError):
        put(http, {"username": "x", "otp": "123456"})


def test_basic_tenant_over_mutual_tls(px: Px, pki: Pki) -> None:
    """The certificate opens the connection; a Basic tenant still wants its client."""
    cred = px.cred("basic")
    with _client(px, pki, pki.unlisted) as http:
        body = {"username": cred.name, "otp": cred.code()}
        assert put(http, body, tenant="basic").status_code == 401
        assert put(http, body, tenant="basic", auth=px.auth("basic", "app")).status_code == 200


def test_plain_http_to_the_tls_port_gets_no_answer(px: Px) -> None:
    with (
        httpx.Client(base_url=px.url.replace("https", "http"), timeout=10) as http,
        pytest.raises(httpx.TransportError),
    ):
        http.put(PATH)


def test_request_limits_apply_over_tls(px: Px, pki: Pki) -> None:
    """The TLS protocol (client certificates) carries the request limits too (web/protocol.py)."""
    with _client(px, pki, pki.good) as http:
        long_url = http.get("/v1/config/strongbox/totp", params={"x": "y" * 10_000})
        assert long_url.status_code == 414
        assert long_url.json()["errors"][0]["error-message"] == "request URL too long"
        big_head = http.get("/healthz", headers={"X-Big": "a" * 40_000})
        assert big_head.status_code == 431
        assert http.get("/healthz").status_code == 200
