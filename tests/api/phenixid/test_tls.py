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

from tests.support.clients import PHENIX_PATH as PATH
from tests.support.clients import phenix_put as put
from tests.support.deployment import TLS_SUBJECT, Deployment, start_deployment

ORG = "Acme AB"
UNIT = "Payments"
SUBJECT = f"CN=client-a,OU={UNIT},O={ORG}"  # one that tenant certs allows
CERTS = "certs"  # the tenant of client-certificate mode; acme is a Basic tenant


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
def px(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[Deployment]:
    assert SUBJECT == TLS_SUBJECT
    files: Path = tmp_path_factory.mktemp("tls")
    server_cert = pki.ca.issue_cert("127.0.0.1", "localhost")
    server_cert.private_key_pem.write_to_path(str(files / "server.key"))
    server_cert.cert_chain_pems[0].write_to_path(str(files / "server.pem"))
    pki.ca.cert_pem.write_to_path(str(files / "clients-ca.pem"))
    px = start_deployment(
        files / "data",
        "phenixid-tls",
        "--tls-cert", str(files / "server.pem"),
        "--tls-key", str(files / "server.key"),
        "--tls-client-ca", str(files / "clients-ca.pem"),
        # Strongbox over the same port (to enrol) needs a certificate too
        http_options={"verify": pki.context(pki.good)},
    )  # fmt: skip
    yield px
    px.close()


def _client(px: Deployment, pki: Pki, leaf: trustme.LeafCert | None) -> httpx.Client:
    return httpx.Client(base_url=px.url, verify=pki.context(leaf), timeout=30)


def test_announces_https(px: Deployment) -> None:
    assert px.url.startswith("https://127.0.0.1:")


def test_good_certificate_on_the_list_verifies(px: Deployment, pki: Pki) -> None:
    cred = px.enrol(CERTS)
    with _client(px, pki, pki.good) as http:
        assert http.get("/healthz").status_code == 200
        first = put(http, {"username": cred.name, "otp": cred.code()}, tenant=CERTS)
        again = put(http, {"username": cred.name, "otp": cred.code()}, tenant=CERTS)
    assert (first.status_code, first.content) == (200, b"")
    assert again.status_code == 403


def test_subject_not_on_the_list_is_403(px: Deployment, pki: Pki) -> None:
    cred = px.enrol(CERTS)
    with _client(px, pki, pki.unlisted) as http:
        response = put(http, {"username": cred.name, "otp": cred.code()}, tenant=CERTS)
        # an untrusted peer's header does not stand in for the certificate
        spoofed = put(
            http,
            {"username": cred.name, "otp": cred.code()},
            tenant=CERTS,
            headers={"X-SSL-Client-S-DN": SUBJECT},
        )
    assert (response.status_code, response.content) == (403, b"")
    assert spoofed.status_code == 403


@pytest.mark.parametrize("which", ["none", "foreign"])
def test_no_certificate_or_another_ca_fails_the_handshake(
    px: Deployment, pki: Pki, which: str
) -> None:
    leaf = None if which == "none" else pki.foreign
    with _client(px, pki, leaf) as http, pytest.raises(httpx.TransportError):
        put(http, {"username": "x", "otp": "123456"}, tenant=CERTS)


def test_basic_tenant_over_mutual_tls(px: Deployment, pki: Pki) -> None:
    """The certificate opens the connection; a Basic tenant still wants its client."""
    cred = px.enrol("admin")
    with _client(px, pki, pki.unlisted) as http:
        body = {"username": cred.name, "otp": cred.code()}
        assert put(http, body, tenant="acme").status_code == 401
        assert put(http, body, tenant="acme", auth=px.basic("verifier")).status_code == 200


def test_plain_http_to_the_tls_port_gets_no_answer(px: Deployment) -> None:
    with (
        httpx.Client(base_url=px.url.replace("https", "http"), timeout=10) as http,
        pytest.raises(httpx.TransportError),
    ):
        http.put(PATH)


def test_request_limits_apply_over_tls(px: Deployment, pki: Pki) -> None:
    """The TLS protocol (client certificates) carries the request limits too (web/protocol.py)."""
    with _client(px, pki, pki.good) as http:
        long_url = http.get("/v1/config/strongbox/totp", params={"x": "y" * 10_000})
        assert long_url.status_code == 414
        assert long_url.json()["errors"][0]["error-message"] == "request URL too long"
        big_head = http.get("/healthz", headers={"X-Big": "a" * 40_000})
        assert big_head.status_code == 431
        assert http.get("/healthz").status_code == 200
