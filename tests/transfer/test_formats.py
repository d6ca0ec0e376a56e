"""RFC 6238 Appendix B through every importer: the credentials otpd stores make the codes
oathtool computes, at the RFC's own times, with the clock fixed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from otpd.core.bulk import Conflict
from otpd.core.model import Outcome
from otpd.transfer.importer import ImportOptions, ReplayFloor, run_import
from tests.support import builders as b
from tests.support.transfer import oathtool, open_services

RFC_TIMES = [59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000]
RFC_SHA1 = ["94287082", "07081804", "14050471", "89005924", "69279037", "65353130"]

Builder = Callable[[list[b.Cred]], bytes]
FORMATS: list[tuple[str, Builder, str]] = [
    ("otpauth", b.otpauth, "{account}"),
    ("gauth-migration", b.gauth, "{account}"),
    ("pskc", b.pskc, "{account}"),
    ("privacyidea", b.privacyidea_yaml, "{serial}"),
    ("privacyidea", lambda c: b.privacyidea_yaml(c, b32_keys=True), "{serial}"),
    ("authelia", b.authelia, "{account}"),
    ("keycloak", b.keycloak, "{account}"),
]


def test_oathtool_is_the_rfc_oracle() -> None:
    codes = [oathtool(b.RFC_SECRETS["sha1"], t, digits=8) for t in RFC_TIMES]
    assert codes == RFC_SHA1


@pytest.mark.parametrize(("fmt", "build", "template"), FORMATS)
def test_rfc6238_secrets_verify_after_import(
    fmt: str, build: Builder, template: str, tmp_path: Path
) -> None:
    creds = b.rfc_creds(digits=8)
    d = open_services(tmp_path / "d", RFC_TIMES[0])
    options = ImportOptions(
        format=fmt, replay_floor=ReplayFloor.parse("carried"), name_template=template
    )
    report = run_import(d.bulk, d.principal(), build(creds), options)
    assert report.summary() == {"imported": 3, "replaced": 0, "skipped": 0, "refused": 0}
    names = [r.name for r in report.rows]
    for t in RFC_TIMES:
        d.clock.set(t)
        for name, cred in zip(names, creds, strict=True):
            code = oathtool(cred.secret, t, digits=8, algo=cred.algorithm)
            result = d.services.credentials.verify(d.principal(), name, code)
            assert result.outcome is Outcome.ACCEPTED, (fmt, name, t)
            assert (
                d.services.credentials.verify(d.principal(), name, code).outcome is Outcome.REPLAYED
            )
    d.store.close()


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("csv", b.seed_csv([b.Cred("alice@example.com", b.RFC_SECRETS["sha1"])])),
        ("csv", b.seed_csv([b.Cred("alice@example.com", b.RFC_SECRETS["sha1"])], True)),
        ("privacyidea", b.privacyidea_csv([b.Cred("alice@example.com", b.RFC_SECRETS["sha1"])])),
    ],
)
def test_sha1_only_csv_files(fmt: str, data: bytes, tmp_path: Path) -> None:
    """The seed file and privacyIDEA's CSV have no hash column: SHA-1 (the seed file has no
    digits column either: 6)."""
    secret = b.RFC_SECRETS["sha1"]
    d = open_services(tmp_path / "d", 1111111109)
    options = ImportOptions(
        format=fmt,
        replay_floor=ReplayFloor.parse("carried"),
        name_template="{account}" if fmt == "csv" else "{serial}",
    )
    report = run_import(d.bulk, d.principal(), data, options)
    assert report.count("imported") == 1
    result = d.services.credentials.verify(
        d.principal(), report.rows[0].name, oathtool(secret, 1111111109)
    )
    assert result.outcome is Outcome.ACCEPTED
    d.store.close()


@pytest.mark.parametrize("floor", ["now", "now+0", "now+2"])
def test_replay_floor_spends_the_cut_over_window(floor: str, tmp_path: Path) -> None:
    """now+N: every code up to N steps ahead of the import time is refused; the next works."""
    t = 1111111109
    window = int(floor.partition("+")[2] or 1)  # plain now: 1 when the file names none
    d = open_services(tmp_path / "d", t)
    creds = [b.Cred("alice", b.RFC_SECRETS["sha1"])]
    options = ImportOptions(format="otpauth", replay_floor=ReplayFloor.parse(floor))
    run_import(d.bulk, d.principal(), b.otpauth(creds), options)
    assert d.store.get_credential("acme", "alice").last_step == t // 30 + window  # type: ignore[union-attr]
    for ahead in range(window + 1):
        code = oathtool(creds[0].secret, t + 30 * ahead)
        assert not d.services.credentials.verify(d.principal(), "alice", code).accepted
    d.clock.set(t + 30 * (window + 1))
    code = oathtool(creds[0].secret, t + 30 * (window + 1))
    assert d.services.credentials.verify(d.principal(), "alice", code).accepted
    d.store.close()


def test_carried_step_is_honoured_even_when_ahead(tmp_path: Path) -> None:
    """A privacyIDEA counter (last accepted step) survives: that step's code is refused."""
    t = 1111111109
    d = open_services(tmp_path / "d", t)
    creds = [b.Cred("alice", b.RFC_SECRETS["sha1"], last_step=t // 30 + 1)]
    options = ImportOptions(
        format="privacyidea",
        replay_floor=ReplayFloor.parse("carried"),
        on_conflict=Conflict.FAIL,
    )
    report = run_import(d.bulk, d.principal(), b.privacyidea_yaml(creds), options)
    name = report.rows[0].name
    assert name == "alice@realm1"
    d.clock.set(t + 30)
    assert not d.services.credentials.verify(
        d.principal(), name, oathtool(creds[0].secret, t + 30)
    ).accepted
    d.clock.set(t + 60)
    assert d.services.credentials.verify(
        d.principal(), name, oathtool(creds[0].secret, t + 60)
    ).accepted
    d.store.close()
