"""PSKC both ways through python-pskc: its plain, pre-shared-key and PBKDF2 files import;
otpd's export reads back in python-pskc with every value; wrong keys fail the whole file."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pskc import PSKC

from otpd.core.model import Outcome
from otpd.transfer.exporter import PBKDF2_ITERATIONS, to_pskc
from otpd.transfer.formats import FormatError, ParseOptions
from otpd.transfer.formats.pskc import parse
from otpd.transfer.importer import ImportOptions, ReplayFloor, run_import
from tests.support import builders as b
from tests.support.transfer import InProcess, oathtool

PSK = bytes(range(16))
CREDS = [
    b.Cred("alice", b.RFC_SECRETS["sha256"], "sha256", 8, 60, last_step=1234),
    b.Cred("bob", b.RFC_SECRETS["sha1"], last_step=None),
]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b.pskc(CREDS), None),
        (b.pskc(CREDS, psk=PSK), PSK.hex().encode()),
        (b.pskc(CREDS, password="a long passphrase"), b"a long passphrase\n"),
    ],
    ids=["plain", "pre-shared-key", "pbkdf2"],
)
def test_python_pskc_files_import(data: bytes, key: bytes | None) -> None:
    rows = list(parse(data, ParseOptions(key=key)))
    got = [
        (r.account, r.secret.reveal(), r.algorithm, r.digits, r.period, r.last_step)  # type: ignore[union-attr]
        for r in rows
    ]
    want = [(c.account, c.secret, c.algorithm, c.digits, c.period, c.last_step) for c in CREDS]
    assert got == want


@pytest.mark.parametrize(
    ("data", "key", "message"),
    [
        (b.pskc(CREDS, psk=PSK), None, "encrypted: pass --key-file"),
        (b.pskc(CREDS, psk=PSK), bytes(16).hex().encode(), "wrong key or password"),
        (b.pskc(CREDS, psk=PSK), b"not hex", "must be hex"),
        (b.pskc(CREDS, password="a long passphrase"), b"wrong", "wrong key or password"),
        (b.pskc(CREDS)[:300], None, "not a valid PSKC"),
        (b"", None, "PSKC"),
    ],
)
def test_bad_keys_and_files_fail_whole(data: bytes, key: bytes | None, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        list(parse(data, ParseOptions(key=key)))


def test_export_reads_back_in_python_pskc(in_process: InProcess) -> None:
    d = in_process
    options = ImportOptions(format="pskc", replay_floor=ReplayFloor.parse("carried"))
    run_import(d.bulk, d.principal(), b.pskc(CREDS), options)
    document = to_pskc(d.bulk.export(d.principal()), "correct horse battery")
    assert f"<IterationCount>{PBKDF2_ITERATIONS}</IterationCount>".encode() in document
    assert b"aes256-cbc" in document
    assert b"hmac-sha256" in document
    for cred in CREDS:  # no secret in the clear, in any spelling
        for form in (cred.secret, cred.secret.hex().encode(), b.b32(cred.secret).encode()):
            assert form not in document
    container = PSKC(io.BytesIO(document))
    container.encryption.derive_key("correct horse battery")
    assert container.encryption.derivation.pbkdf2_iterations >= 600_000
    keys = {k.key_userid: k for k in container.keys}
    for cred in CREDS:
        key = keys[cred.account]
        assert key.secret == cred.secret
        assert key.algorithm_suite == "HMAC-" + cred.algorithm.upper()
        assert (key.response_length, key.time_interval) == (cred.digits, cred.period)
        assert key.counter == cred.last_step
    wrong = PSKC(io.BytesIO(document))
    wrong.encryption.derive_key("wrong password!!")
    from pskc.exceptions import DecryptionError

    with pytest.raises(DecryptionError):
        _ = wrong.keys[0].secret


def test_export_refuses_a_short_password(in_process: InProcess) -> None:
    from otpd.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        to_pskc([], "short")


def test_import_export_import_keeps_everything(in_process: InProcess, tmp_path: Path) -> None:
    """Every parameter, the secret and the last step survive a round trip via PSKC."""
    d = in_process
    options = ImportOptions(format="pskc", replay_floor=ReplayFloor.parse("carried"))
    run_import(d.bulk, d.principal(), b.pskc(CREDS), options)
    d.clock.set(2000000000)
    code = oathtool(CREDS[1].secret, 2000000000)
    assert d.services.credentials.verify(d.principal(), "bob", code).outcome is Outcome.ACCEPTED
    document = to_pskc(d.bulk.export(d.principal()), "correct horse battery")
    options = ImportOptions(
        format="pskc", replay_floor=ReplayFloor.parse("carried"), key=b"correct horse battery"
    )
    run_import(d.bulk, d.principal("other"), document, options)
    for cred in CREDS:
        first = d.store.get_credential("acme", cred.account)
        second = d.store.get_credential("other", cred.account)
        assert first is not None and second is not None
        assert (second.params, second.issuer, second.last_step) == (
            first.params,
            first.issuer,
            first.last_step,
        )
        assert (
            d.services.credentials.reveal_secret(d.principal("other"), cred.account).reveal()
            == cred.secret
        )
    # bob's code accepted before the export is refused after the re-import
    assert (
        d.services.credentials.verify(d.principal("other"), "bob", code).outcome is Outcome.REPLAYED
    )
    assert re.search(rb"<pskc:Counter>\s*<pskc:PlainValue>\d+", document)


def test_privacyidea_suite_attribute_and_seconds_drift() -> None:
    """privacyIDEA's export_pskc: <Suite hashalgo="sha256"/>, TimeDrift in seconds, and the
    last accepted step in <Counter> (privacyidea/lib/importotp.py)."""
    document = b.pskc([b.Cred("TOTP0001", b.RFC_SECRETS["sha256"], last_step=4321)])
    document = document.replace(
        b"<pskc:Suite>HMAC-SHA1</pskc:Suite>", b'<pskc:Suite hashalgo="sha256"/>'
    )
    document = document.replace(b"<pskc:Issuer>Acme", b"<pskc:Issuer>privacyIDEA")
    document = document.replace(
        b"</pskc:Data>",
        b"<pskc:TimeDrift><pskc:PlainValue>-17</pskc:PlainValue></pskc:TimeDrift></pskc:Data>",
    )
    (row,) = list(parse(document, ParseOptions()))
    assert (row.algorithm, row.last_step, row.drift) == ("sha256", 4321, -17)  # type: ignore[union-attr]
