"""Export files of every import format, written the way their systems write them, from a
list of Cred. Google Authenticator payloads come from the protobuf runtime (the message
types of tests/transfer/google_auth.proto, built as descriptors), PSKC from python-pskc."""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import yaml
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

# RFC 6238 Appendix B: the seed per hash, with 8-digit codes
RFC_SECRETS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}


@dataclass(frozen=True)
class Cred:
    account: str
    secret: bytes
    algorithm: str = "sha1"
    digits: int = 6
    period: int = 30
    issuer: str = "Acme"
    last_step: int | None = None


def rfc_creds(digits: int = 8, period: int = 30) -> list[Cred]:
    return [
        Cred(f"rfc-{algo}", secret, algo, digits, period) for algo, secret in RFC_SECRETS.items()
    ]


def b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=")


def otpauth(creds: list[Cred]) -> bytes:
    lines = []
    for c in creds:
        query = urlencode(
            {
                "secret": b32(c.secret),
                "issuer": c.issuer,
                "algorithm": c.algorithm.upper(),
                "digits": c.digits,
                "period": c.period,
            }
        )
        lines.append(f"otpauth://totp/{quote(c.issuer)}:{quote(c.account)}?{query}\n")
    return "".join(lines).encode()


# --- Google Authenticator, through the protobuf runtime --------------------------------------
def _payload_class() -> Any:
    f = descriptor_pb2.FileDescriptorProto(name="google_auth.proto", syntax="proto3")
    m = f.message_type.add(name="MigrationPayload")
    for name, values in (
        ("Algorithm", ["UNSPECIFIED", "SHA1", "SHA256", "SHA512", "MD5"]),
        ("DigitCount", ["UNSPECIFIED", "SIX", "EIGHT"]),
        ("OtpType", ["UNSPECIFIED", "HOTP", "TOTP"]),
    ):
        enum = m.enum_type.add(name=name)
        for number, value in enumerate(values):
            enum.value.add(name=f"{name.upper()}_{value}", number=number)
    fd = descriptor_pb2.FieldDescriptorProto
    p = m.nested_type.add(name="OtpParameters")
    for number, (name, kind, type_name) in enumerate(
        [
            ("secret", fd.TYPE_BYTES, None),
            ("name", fd.TYPE_STRING, None),
            ("issuer", fd.TYPE_STRING, None),
            ("algorithm", fd.TYPE_ENUM, ".MigrationPayload.Algorithm"),
            ("digits", fd.TYPE_ENUM, ".MigrationPayload.DigitCount"),
            ("type", fd.TYPE_ENUM, ".MigrationPayload.OtpType"),
            ("counter", fd.TYPE_INT64, None),
        ],
        1,
    ):
        field = p.field.add(name=name, number=number, type=kind, label=fd.LABEL_OPTIONAL)
        if type_name:
            field.type_name = type_name
    m.field.add(
        name="otp_parameters",
        number=1,
        type=fd.TYPE_MESSAGE,
        type_name=".MigrationPayload.OtpParameters",
        label=fd.LABEL_REPEATED,
    )
    for number, name in enumerate(["version", "batch_size", "batch_index", "batch_id"], 2):
        m.field.add(name=name, number=number, type=fd.TYPE_INT32, label=fd.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("MigrationPayload"))


MigrationPayload = _payload_class()
ALGORITHM_NUMBERS = {"sha1": 1, "sha256": 2, "sha512": 3, "md5": 4}


def gauth_payload(creds: list[Cred], batch: tuple[int, int, int] = (1, 0, 7)) -> Any:
    size, index, batch_id = batch
    payload = MigrationPayload(version=1, batch_size=size, batch_index=index, batch_id=batch_id)
    for c in creds:
        payload.otp_parameters.add(
            secret=c.secret,
            name=f"{c.issuer}:{c.account}",
            issuer=c.issuer,
            algorithm=ALGORITHM_NUMBERS[c.algorithm],
            digits={6: 1, 8: 2}[c.digits],
            type=2,
        )
    return payload


def gauth_uri(payload: Any) -> str:
    data = base64.b64encode(payload.SerializeToString()).decode()
    return "otpauth-migration://offline?data=" + quote(data, safe="")


def gauth(creds: list[Cred]) -> bytes:
    return (gauth_uri(gauth_payload(creds)) + "\n").encode()


# --- PSKC, through python-pskc ---------------------------------------------------------------
def pskc(creds: list[Cred], password: str | None = None, psk: bytes | None = None) -> bytes:
    from pskc import PSKC

    container = PSKC()
    for c in creds:
        key = container.add_key(
            id=c.account,
            algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp",
            issuer=c.issuer,
            key_userid=c.account,
            algorithm_suite="HMAC-" + c.algorithm.upper(),
            response_encoding="DECIMAL",
            response_length=c.digits,
            time_interval=c.period,
            time_offset=0,
        )
        key.secret = c.secret
        if c.last_step is not None:
            key.counter = c.last_step
    if password is not None:
        container.encryption.setup_pbkdf2(password, iterations=1000)
    if psk is not None:
        container.encryption.setup_preshared_key(key=psk)
    out = io.BytesIO()
    container.write(out)
    return out.getvalue()


# --- privacyIDEA token janitor ---------------------------------------------------------------
def privacyidea_yaml(creds: list[Cred], b32_keys: bool = False) -> bytes:
    tokens = [
        {
            "serial": f"TOTP{i:04d}",
            "type": "totp",
            "otpkey": base64.b32encode(c.secret).decode() if b32_keys else c.secret.hex(),
            "description": "",
            "otplen": c.digits,
            "counter": c.last_step or 0,
            "info_list": {
                "hashlib": c.algorithm,
                "timeStep": str(c.period),
                "timeShift": "-12.0",
                "tokenkind": "software",
            },
            "owner": f"{c.account}@realm1",
        }
        for i, c in enumerate(creds)
    ]
    return yaml.safe_dump(tokens).encode()


def privacyidea_csv(creds: list[Cred]) -> bytes:
    lines = [
        f"{c.account}@realm1, TOTP{i:04d}, {c.secret.hex()}, totp, {c.digits}, {c.period}"
        for i, c in enumerate(creds)
    ]
    return "\n".join(lines).encode()


def authelia(creds: list[Cred]) -> bytes:
    entries = [
        {
            "created_at": "2026-01-02T03:04:05Z",
            "last_used_at": None,
            "username": c.account,
            "issuer": c.issuer,
            "algorithm": c.algorithm.upper(),
            "digits": c.digits,
            "period": c.period,
            "secret": base64.b64encode(b32(c.secret).encode()).decode(),
        }
        for c in creds
    ]
    return yaml.safe_dump({"totp_configurations": entries}).encode()


def keycloak(creds: list[Cred], realm: str = "Acme") -> bytes:
    users = []
    for c in creds:
        try:
            value, encoding = c.secret.decode("ascii"), None  # Keycloak's own secrets
        except UnicodeDecodeError:
            value, encoding = b32(c.secret), "BASE32"
        data = {
            "subType": "totp",
            "digits": c.digits,
            "counter": 0,
            "period": c.period,
            "algorithm": "Hmac" + c.algorithm.upper(),
            "secretEncoding": encoding,
        }
        credential = {
            "type": "otp",
            "userLabel": "phone",
            "secretData": json.dumps({"value": value}),
            "credentialData": json.dumps(data),
        }
        users.append({"username": c.account, "credentials": [credential]})
    return json.dumps({"realm": realm, "users": users}).encode()


def seed_csv(creds: list[Cred], hex_keys: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["upn", "serial number", "secret key", "time interval", "manufacturer", "model"]
    )
    for i, c in enumerate(creds):
        key = c.secret.hex() if hex_keys else b32(c.secret)
        writer.writerow([c.account, f"SN{i:06d}", key, c.period, c.issuer, "c200"])
    return out.getvalue().encode()
