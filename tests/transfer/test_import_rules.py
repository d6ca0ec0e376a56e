"""otpd's rules on imported rows: per-row refusals with reasons, whole-file errors, conflicts,
dry runs, idempotent re-runs, and batches that are written whole or not at all."""

from __future__ import annotations

import pytest

from otpd.core.bulk import Conflict
from otpd.core.errors import OtpdError
from otpd.transfer.formats import FormatError
from otpd.transfer.importer import ConflictError, ImportOptions, ReplayFloor, run_import
from tests.support import builders as b
from tests.support.transfer import InProcess

GOOD = bytes(range(1, 21))


def lines(*uris: str) -> bytes:
    return "\n".join(uris).encode()


def uri(account: str, secret: bytes = GOOD, **params: object) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"otpauth://totp/Acme:{account}?secret={b.b32(secret)}&{query}"


def test_each_bad_row_is_refused_with_its_reason(in_process: InProcess) -> None:
    d = in_process
    data = lines(
        uri("ok"),
        uri("short", bytes(9)),
        uri("md5", algorithm="MD5"),
        uri("five", digits=5),
        uri("eleven", digits=11),
        uri("ok"),
        uri("has space"),
        "otpauth://hotp/Acme:counter?secret=" + b.b32(GOOD),
        "otpauth://totp/Acme:nosecret?issuer=Acme",
        "otpauth://totp/Acme:badb32?secret=11111111",
        "not a uri",
    )
    report = run_import(d.bulk, d.principal(), data, ImportOptions(format="otpauth"))
    reasons = {r.row: (r.status, r.reason) for r in report.rows}
    assert reasons[1] == ("imported", "")
    assert "10-1024 bytes" in reasons[2][1]
    assert "MD5" in reasons[3][1]
    assert "digits" in reasons[4][1] and "digits" in reasons[5][1]
    assert reasons[6] == ("refused", "duplicate name (also row 1)")
    assert "name" in reasons[7][1]
    assert "TOTP" in reasons[8][1]
    assert "base32" in reasons[9][1] and "base32" in reasons[10][1]
    assert "otpauth" in reasons[11][1]
    assert report.summary() == {"imported": 1, "replaced": 0, "skipped": 0, "refused": 10}
    assert [c.name for c in d.store.list_credentials("acme")] == ["ok"]


def test_strict_refuses_the_whole_file(in_process: InProcess) -> None:
    d = in_process
    data = lines(uri("ok"), uri("short", bytes(9)))
    with pytest.raises(OtpdError, match="strict"):
        run_import(d.bulk, d.principal(), data, ImportOptions(format="otpauth", strict=True))
    assert d.store.count_credentials("acme") == 0


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("gauth-migration", b"otpauth-migration://offline?data=CgUKA2Fi"),  # truncated entry
        ("authelia", b"totp_configurations: [\n  {username: a"),
        ("keycloak", b'{"realm": "x", "users": ['),
        ("csv", b"name,secret\nalice,JBSWY3DPEHPK3PXP"),
        ("privacyidea", b"- serial: [unclosed"),
        ("otpauth", b"\xff\xfe not utf-8"),
    ],
)
def test_damaged_files_import_nothing(in_process: InProcess, fmt: str, data: bytes) -> None:
    d = in_process
    good = {
        "gauth-migration": b.gauth([b.Cred("x", GOOD)]),
        "otpauth": lines(uri("x")),
    }.get(fmt, b"")
    with pytest.raises(FormatError):
        run_import(d.bulk, d.principal(), good + b"\n" + data, ImportOptions(format=fmt))
    assert d.store.count_credentials("acme") == 0


def test_conflict_fail_writes_nothing_even_in_earlier_batches(in_process: InProcess) -> None:
    d = in_process
    run_import(d.bulk, d.principal(), lines(uri("user0049")), ImportOptions(format="otpauth"))
    data = lines(*(uri(f"user{i:04d}") for i in range(50)))
    options = ImportOptions(format="otpauth", batch_size=10)
    with pytest.raises(ConflictError) as caught:
        run_import(d.bulk, d.principal(), data, options)
    assert [r.name for r in caught.value.report.rows if r.reason == "name exists"] == ["user0049"]
    assert d.store.count_credentials("acme") == 1


def test_skip_is_idempotent_and_replace_never_lowers_the_step(in_process: InProcess) -> None:
    d = in_process
    data = lines(*(uri(f"user{i}") for i in range(25)))
    first = run_import(d.bulk, d.principal(), data, ImportOptions(format="otpauth", batch_size=7))
    assert first.count("imported") == 25
    before = {c.name: c for c in d.store.list_credentials("acme")}
    options = ImportOptions(format="otpauth", on_conflict=Conflict.SKIP, batch_size=7)
    again = run_import(d.bulk, d.principal(), data, options)
    assert again.count("skipped") == 25
    assert {c.name: c for c in d.store.list_credentials("acme")} == before
    options = ImportOptions(
        format="otpauth",
        on_conflict=Conflict.REPLACE,
        replay_floor=ReplayFloor.parse("carried"),
    )
    replaced = run_import(d.bulk, d.principal(), lines(uri("user3", digits=8)), options)
    assert replaced.count("replaced") == 1
    after = d.store.get_credential("acme", "user3")
    assert after is not None
    assert after.id == before["user3"].id and after.params.digits == 8
    assert after.last_step == before["user3"].last_step  # carried -1 did not lower it
    assert after.version == before["user3"].version + 1


def test_dry_run_reports_and_writes_nothing(in_process: InProcess) -> None:
    d = in_process
    data = lines(uri("a"), uri("b"), uri("bad", bytes(3)))
    report = run_import(d.bulk, d.principal(), data, ImportOptions(format="otpauth", dry_run=True))
    assert report.summary() == {"imported": 2, "replaced": 0, "skipped": 0, "refused": 1}
    assert d.store.count_credentials("acme") == 0


def test_name_template_and_naming_rules(in_process: InProcess) -> None:
    d = in_process
    data = lines(uri("alice"), "otpauth://totp/Bad%20Issuer:bob?secret=" + b.b32(GOOD))
    options = ImportOptions(format="otpauth", name_template="{issuer}-{account}")
    report = run_import(d.bulk, d.principal(), data, options)
    assert [(r.name, r.status) for r in report.rows] == [
        ("Acme-alice", "imported"),
        ("Bad Issuer:bob", "refused"),
    ]
    with pytest.raises(OtpdError, match="name-template"):
        run_import(d.bulk, d.principal(), data, ImportOptions("otpauth", name_template="{user}"))


def test_drift_t0_and_unknown_tenant(in_process: InProcess) -> None:
    d = in_process
    tokens = b.privacyidea_yaml([b.Cred("a", GOOD)]).replace(b"-12.0", b"-95")
    report = run_import(
        d.bulk, d.principal(), tokens, ImportOptions("privacyidea", name_template="{serial}")
    )
    assert "drift" in report.rows[0].reason
    from otpd.core.errors import NotFound

    with pytest.raises(NotFound):
        run_import(d.bulk, d.principal("nobody"), lines(uri("a")), ImportOptions("otpauth"))


@pytest.mark.parametrize("text", ["later", "now+", "now-1", "now+1000", "carried+1"])
def test_replay_floor_syntax(text: str) -> None:
    with pytest.raises(OtpdError, match="replay-floor"):
        ReplayFloor.parse(text)


def test_progress_line_shows_rate_and_eta() -> None:
    from otpd.transfer.cli import progress_line

    line = progress_line(5000, 20000, 2.0, width=20)
    assert line == "[#####---------------] 5000/20000 rows 2,500 rows/s ETA 6s"


def test_batches_report_progress(in_process: InProcess) -> None:
    d = in_process
    seen: list[tuple[int, int]] = []
    data = lines(*(uri(f"u{i}") for i in range(25)))
    options = ImportOptions(format="otpauth", batch_size=10)
    run_import(d.bulk, d.principal(), data, options, lambda done, total: seen.append((done, total)))
    assert seen == [(10, 25), (20, 25), (25, 25)]
