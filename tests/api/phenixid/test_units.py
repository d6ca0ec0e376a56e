"""Quick tests of the pieces without a server: request parsing, the numeric-code rule, subject
canonical form, tenant admission (least privilege), trusted-proxy matching, and the service's
PhenixID methods over the memory store."""

from __future__ import annotations

import base64

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from starlette.datastructures import Headers

from otpd.api.common import media_type_of
from otpd.api.phenixid.auth import CertSource, caller_of, is_trusted_proxy
from otpd.api.phenixid.parse import basic_credentials, parse_token_auth, tenant_header
from otpd.bootstrap import compose_services
from otpd.core.codes import NumericCode, code_text
from otpd.core.errors import Forbidden, InvalidInput, Unauthenticated
from otpd.core.model import (
    CredentialSpec,
    OtpParams,
    PhenixAuth,
    Principal,
    Scope,
    SecretBytes,
    Tenant,
)
from otpd.core.tenants import Caller, admit, validate_operations, validate_subjects
from otpd.store.memory import MemoryStore
from otpd.subjects import canonical_subject, subject_of_der, subject_of_pem
from tests.support.fakes import ALL_SCOPES, FakeClock, FakeSealer, ref_totp


def _headers(*pairs: tuple[str, str]) -> Headers:
    return Headers(raw=[(k.lower().encode(), v.encode("latin-1")) for k, v in pairs])


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


# --- parse ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (_basic("app:KEY"), ("app", "KEY")),
        (_basic("app:KEY:with:colons"), ("app", "KEY:with:colons")),
        ("basic " + base64.b64encode(b"app:KEY").decode(), ("app", "KEY")),
        (_basic(":KEY"), None),
        (_basic("app:"), None),
        (_basic("app"), None),
        ("Basic Og==", None),
        ("Basic not base64!", None),
        ("Basic " + base64.b64encode(b"\xff:\xfe").decode(), None),
        ("Bearer abc", None),
        ("Basic", None),
        ("Basic " + "A" * 8000, None),
    ],
)
def test_basic_credentials(value: str, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(_headers(("Authorization", value))) == expected


def test_basic_credentials_missing_or_repeated() -> None:
    assert basic_credentials(_headers()) is None
    twice = _headers(("Authorization", _basic("a:b")), ("Authorization", _basic("a:b")))
    assert basic_credentials(twice) is None


def test_tenant_header() -> None:
    assert tenant_header(_headers(("tenant", "ot"))) == "ot"
    assert tenant_header(_headers(("Tenant", "OT"))) == "OT"  # the value is kept as sent
    assert tenant_header(_headers()) is None
    assert tenant_header(_headers(("tenant", "ot"), ("tenant", "ot"))) is None


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        " application/json",
    ],
)
def test_content_types_accepted(content_type: str) -> None:
    media = media_type_of(content_type)  # as the endpoint reads it
    command = parse_token_auth(media, b'{"username": "u", "otp": "012345"}')
    assert (command.username, command.otp) == ("u", "012345")


@pytest.mark.parametrize(
    "content_type", [None, "", "text/plain", "application/json-patch+json", "application/jsonp"]
)
def test_content_types_refused(content_type: str | None) -> None:
    with pytest.raises(InvalidInput):
        parse_token_auth(media_type_of(content_type), b'{"username": "u", "otp": "012345"}')


def test_otp_number_and_refusals() -> None:
    assert parse_token_auth("application/json", b'{"username":"u","otp":87082}').otp == (
        NumericCode(87082)
    )
    for otp in (b"-1", b"1.0", b"1e5", b"true", b"null", b"[]", b"{}"):
        with pytest.raises(InvalidInput):
            parse_token_auth("application/json", b'{"username":"u","otp":' + otp + b"}")
    assert "012345" not in repr(
        parse_token_auth("application/json", b'{"username":"u","otp":"012345"}')
    )


# --- the numeric-code rule -----------------------------------------------------------
def test_code_text_pads_to_the_credentials_digits() -> None:
    assert code_text(NumericCode(87082), 6) == "087082"
    assert code_text(NumericCode(0), 8) == "00000000"
    assert code_text(NumericCode(123456789), 8) == "-"  # too long: never well formed
    assert code_text(NumericCode(10**4000), 6) == "-"
    assert code_text("87082", 6) == "87082"  # strings are never padded
    with pytest.raises(InvalidInput):
        NumericCode(-1)
    with pytest.raises(InvalidInput):
        NumericCode(True)
    assert "87082" not in repr(NumericCode(87082))


# --- subjects -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("CN=client-a,O=Acme AB,C=SE", "CN=client-a,O=Acme AB,C=SE"),
        ("cn=client-a,o=Acme AB,c=SE", "CN=client-a,O=Acme AB,C=SE"),
        (r"CN=J\C3\A9r\C3\B4me,O=X", "CN=Jérôme,O=X"),  # nginx escapes UTF-8 bytes
        ("emailAddress=a@example.org,CN=a,O=X", "emailAddress=a@example.org,CN=a,O=X"),
        ("EMAILADDRESS=a@example.org,CN=a", "emailAddress=a@example.org,CN=a"),
        (r"CN=Doe\, John,O=X", r"CN=Doe\, John,O=X"),
        ("CN=a+UID=b,O=X", "CN=a+UID=b,O=X"),
    ],
)
def test_canonical_subject(text: str, canonical: str) -> None:
    assert canonical_subject(text) == canonical
    assert canonical_subject(canonical) == canonical  # idempotent


@pytest.mark.parametrize(
    "text", ["", "client-a", "/C=SE/O=X/CN=a", "CN=a, O=b", "FOO=x", "x" * 5000]
)
def test_not_a_subject(text: str) -> None:
    with pytest.raises(ValueError, match="distinguished name"):
        canonical_subject(text)


def test_subject_of_a_certificate_matches_its_text_form() -> None:
    leaf = trustme.CA().issue_cert(
        "a.example",
        common_name="client-a",
        organization_name="Acme AB",
        organization_unit_name="IT",
    )
    pem = leaf.cert_chain_pems[0].bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)
    assert subject_of_pem(pem) == subject_of_der(der) == "CN=client-a,OU=IT,O=Acme AB"
    assert canonical_subject("CN=client-a,OU=IT,O=Acme AB") == subject_of_pem(pem.decode())


# --- admission (core.tenants) -----------------------------------------------------------------
def _auth(tenant: str = "ot", scopes: frozenset[Scope] = ALL_SCOPES):  # type: ignore[no-untyped-def]
    def authenticate(name: str, key: str) -> Principal:
        if (name, key) != ("app", "k"):
            raise Unauthenticated("bad")
        return Principal(tenant=tenant, client="app", scopes=scopes)

    return authenticate


def test_basic_mode() -> None:
    tenant = Tenant(id="ot")
    principal = admit(tenant, Caller(basic=("app", "k")), "otp_token_auth", _auth())
    # least privilege: verify only, this tenant only, whatever else the client may do
    assert principal == Principal(tenant="ot", client="app", scopes=frozenset({Scope.VERIFY}))
    for caller in (Caller(), Caller(basic=("app", "x")), Caller(cert_subject="CN=a")):
        with pytest.raises(Unauthenticated):
            admit(tenant, caller, "otp_token_auth", _auth())
    with pytest.raises(Unauthenticated):  # a client of another tenant (docs/api-phenixid.md)
        admit(tenant, Caller(basic=("app", "k")), "otp_token_auth", _auth("other"))
    with pytest.raises(Forbidden):
        admit(
            tenant,
            Caller(basic=("app", "k")),
            "otp_token_auth",
            _auth(scopes=frozenset({Scope.READ})),
        )


def test_client_cert_mode() -> None:
    tenant = Tenant(id="ot", phenixid_auth=PhenixAuth.CLIENT_CERT, client_cert_subjects=("CN=a",))
    principal = admit(tenant, Caller(cert_subject="CN=a"), "otp_token_auth", _auth())
    assert principal.scopes == frozenset({Scope.VERIFY}) and principal.tenant == "ot"
    for caller in (Caller(), Caller(cert_subject="CN=b"), Caller(basic=("app", "k"))):
        with pytest.raises(Forbidden):
            admit(tenant, caller, "otp_token_auth", _auth())
    empty = Tenant(id="ot", phenixid_auth=PhenixAuth.CLIENT_CERT)
    with pytest.raises(Forbidden):
        admit(empty, Caller(cert_subject="CN=a"), "otp_token_auth", _auth())


def test_none_mode_unknown_tenant_system_and_operations() -> None:
    open_tenant = Tenant(id="open", phenixid_auth=PhenixAuth.NONE)
    assert admit(open_tenant, Caller(), "otp_token_auth", _auth()).scopes == {Scope.VERIFY}
    with pytest.raises(Forbidden):
        admit(None, Caller(basic=("app", "k")), "otp_token_auth", _auth())
    with pytest.raises(Forbidden):
        admit(
            Tenant(id="system", phenixid_auth=PhenixAuth.NONE), Caller(), "otp_token_auth", _auth()
        )
    with pytest.raises(Forbidden):
        admit(open_tenant, Caller(), "sendSMS", _auth())
    closed = Tenant(id="open", phenixid_auth=PhenixAuth.NONE, allowed_operations=())
    with pytest.raises(Forbidden):
        admit(closed, Caller(), "otp_token_auth", _auth())
    listed_but_unknown = Tenant(
        id="x", phenixid_auth=PhenixAuth.NONE, allowed_operations=("sendSMS",)
    )
    with pytest.raises(Forbidden):
        admit(listed_but_unknown, Caller(), "sendSMS", _auth())


def test_validators() -> None:
    assert validate_operations(["otp_token_auth", "otp_token_auth"]) == ("otp_token_auth",)
    assert validate_operations([]) == ()
    with pytest.raises(InvalidInput):
        validate_operations(["sendSMS"])
    assert validate_subjects(["CN=a", "CN=a", "CN=b"]) == ("CN=a", "CN=b")
    with pytest.raises(InvalidInput):
        validate_subjects([""])


def test_caller_repr_hides_the_key() -> None:
    assert "secret-key" not in repr(Caller(basic=("app", "secret-key")))


# --- trusted proxies -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("peer", "trusted", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1/32",), True),
        ("10.1.2.3", ("10.0.0.0/8",), True),
        ("::ffff:10.1.2.3", ("10.0.0.0/8",), True),
        ("fd00::1", ("fd00::/8",), True),
        ("127.0.0.2", ("127.0.0.1/32",), False),
        ("127.0.0.1", (), False),
        ("unix-socket", ("127.0.0.1/32",), False),
        (None, ("127.0.0.1/32",), False),
    ],
)
def test_is_trusted_proxy(peer: str | None, trusted: tuple[str, ...], expected: bool) -> None:
    scope = {"client": (peer, 1234) if peer else None}
    assert is_trusted_proxy(scope, trusted) is expected


def test_caller_of_picks_exactly_one_source() -> None:
    tls = {"extensions": {"tls": {"client_cert_name": "CN=native", "client_cert_chain": []}}}
    header = _headers(("X-SSL-Client-S-DN", "CN=proxied"))
    proxy = CertSource(trusted_proxies=("127.0.0.1/32",))
    direct = CertSource()
    peer = {"client": ("127.0.0.1", 1)}
    assert caller_of({**peer, **tls}, header, proxy).cert_subject == "CN=proxied"
    assert caller_of({**peer, **tls}, _headers(), proxy).cert_subject is None
    assert caller_of({**peer, **tls}, header, direct).cert_subject == "CN=native"
    assert caller_of(peer, header, direct).cert_subject is None


# --- the service's PhenixID methods over the memory store -------------------------------------
def test_service_basic_and_numeric_codes() -> None:
    clock = FakeClock()
    services = compose_services(MemoryStore(), FakeSealer(), clock, label_prefix="Sbox")
    _, key = services.access.create_client("ot", "app", [Scope.VERIFY, Scope.WRITE])
    assert services.access.authenticate_basic("app", key).tenant == "ot"
    for name, wrong in (
        ("other", key),
        ("app", key[:-1] + ("x" if key[-1] != "x" else "y")),
        ("app", ""),
        (None, key),
    ):
        with pytest.raises(Unauthenticated):
            services.access.authenticate_basic(name, wrong)
    writer = Principal(tenant="ot", client="app", scopes=frozenset({Scope.WRITE}))
    secret = SecretBytes(b"12345678901234567890")
    for name, digits in (("six", 6), ("eight", 8)):
        services.credentials.create_credential(
            writer, CredentialSpec(name=name, params=OtpParams(digits=digits)), secret
        )
    principal = services.access.admit_caller("ot", Caller(basic=("app", key)), "otp_token_auth")
    assert principal.scopes == frozenset({Scope.VERIFY})
    for name, digits in (("six", 6), ("eight", 8)):
        code = ref_totp(secret.reveal(), clock.seconds, digits=digits)
        assert services.credentials.verify(principal, name, NumericCode(int(code))).accepted
    with pytest.raises(Forbidden):
        services.access.admit_caller("nope", Caller(basic=("app", key)), "otp_token_auth")
    with pytest.raises(Forbidden):
        services.access.admit_caller("NOT A TENANT", Caller(basic=("app", key)), "otp_token_auth")
