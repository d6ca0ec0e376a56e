"""The commands as subprocesses: import with its report, export, and backup during a write
burst against a running server, restored into a new data directory. No output holds a secret."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import threading
from pathlib import Path

from otpd.core.model import Outcome
from otpd.crypto.keyfile import KEY_FILE_NAME
from tests.support import builders as b
from tests.support import server as harness
from tests.support.deployment import prepare
from tests.support.server import run_cli
from tests.support.transfer import oathtool, open_services


def leaked(secret: bytes, *texts: str) -> bool:
    forms = [*harness.secret_forms(secret), secret.decode("latin-1")]
    return any(form in text for form in forms for text in texts)


def test_import_report_export_and_no_secret_in_output(data_dir: Path, tmp_path: Path) -> None:
    creds = [b.Cred(f"user{i}", secrets.token_bytes(20)) for i in range(5)]
    creds.append(b.Cred("short", secrets.token_bytes(8)))
    for c in creds:
        harness.register_secret(c.secret)
    export = tmp_path / "export.txt"
    export.write_bytes(b.otpauth(creds))
    assert run_cli("tenant", "create", "acme", "--data-dir", str(data_dir)).returncode == 0
    base = ["--tenant", "acme", "--format", "otpauth", "--data-dir", str(data_dir)]
    dry = run_cli("import", *base, "--dry-run", "--json", str(export))
    report = json.loads(dry.stdout)
    assert (report["dry-run"], report["imported"], report["refused"]) == (True, 5, 1)
    result = run_cli("import", *base, "--json", str(export))
    assert result.returncode == 1  # one row refused
    report = json.loads(result.stdout)
    assert report["imported"] == 5
    assert report["rows"][5] == {
        "row": 6,
        "name": "short",
        "status": "refused",
        "reason": "secret: must decode to 10-1024 bytes",
    }
    again = run_cli("import", *base, "--on-conflict", "skip", "-", input=export.read_text())
    assert "skipped 5" in again.stdout
    conflict = run_cli("import", *base, str(export))
    assert conflict.returncode == 1 and "nothing imported" in conflict.stderr
    password = tmp_path / "password"
    password.write_text("a long export password\n")
    out = tmp_path / "out.pskc"
    exp = ["export", "--tenant", "acme", "--data-dir", str(data_dir)]
    pskc = run_cli(*exp, "--format", "pskc", "--key-file", str(password), str(out))
    assert pskc.returncode == 0, pskc.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    refused = run_cli(*exp, "--format", "otpauth", "-")
    assert refused.returncode == 1 and "--insecure-plaintext" in refused.stderr
    again_out = run_cli(*exp, "--format", "pskc", "--key-file", str(password), str(out))
    assert again_out.returncode == 1 and "exists" in again_out.stderr
    outputs = [r.stdout + r.stderr for r in (dry, result, again, conflict, pskc, refused)]
    for c in creds:
        assert not leaked(c.secret, *outputs, out.read_text())
    plain = run_cli(*exp, "--format", "otpauth", "--insecure-plaintext", "--select", "user1", "-")
    assert plain.stdout.count("otpauth://") == 1 and b.b32(creds[1].secret) in plain.stdout
    # every import batch written and every export is a row of the audit trail, the dry run none
    imports = _audit(data_dir, "credential.import")
    assert [e["target"] for e in imports] == [
        "imported=5 replaced=0 skipped=0",
        "imported=0 replaced=0 skipped=5",
    ]
    exports = _audit(data_dir, "credential.export")
    counts = [e["target"] for e in exports]
    assert counts[0] == "credentials=5" and counts[-1] == "credentials=1"  # --select user1
    for entry in imports + exports:
        assert entry["tenant"] == "acme" and entry["caller"].startswith("cli:"), entry
        assert entry["outcome"] == "ok", entry


def _audit(data_dir: Path, action: str) -> list[dict[str, str]]:
    found = run_cli("audit", "--json", "--action", action, "--data-dir", str(data_dir))
    assert found.returncode == 0, found.stderr
    return sorted((json.loads(line) for line in found.stdout.splitlines()), key=lambda e: e["seq"])


def test_backup_during_write_burst_restores_every_acknowledged_credential(
    data_dir: Path, tmp_path: Path
) -> None:
    deployment = prepare(data_dir, roles=("noreveal",))
    acknowledged: dict[str, bytes] = {}
    stop = threading.Event()
    with deployment.start("backup-burst"):
        sb = deployment.sb("noreveal")

        def burst() -> None:
            i = 0
            while not stop.is_set():
                secret = secrets.token_bytes(20)
                if sb.create(f"burst{i}", secret).status_code in (200, 201, 204):
                    acknowledged[f"burst{i}"] = secret
                i += 1

        writer = threading.Thread(target=burst)
        writer.start()
        try:
            while len(acknowledged) < 20:
                threading.Event().wait(0.01)
            before = dict(acknowledged)  # acknowledged before the backup started
            backup = tmp_path / "backup.sqlite3"
            result = run_cli("backup", "--data-dir", str(data_dir), "--to", str(backup))
            assert result.returncode == 0, result.stderr
        finally:
            stop.set()
            writer.join()
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert KEY_FILE_NAME.encode() not in backup.read_bytes()
    new = tmp_path / "restored"
    no_key = run_cli("restore", "--from", str(backup), "--data-dir", str(new))
    assert no_key.returncode == 1 and KEY_FILE_NAME in no_key.stderr
    assert not (new / "otpd.sqlite3").exists()
    new.mkdir(exist_ok=True)
    (new / KEY_FILE_NAME).write_bytes(os.urandom(32))  # someone else's key: refused
    wrong = run_cli("restore", "--from", str(backup), "--data-dir", str(new))
    assert wrong.returncode == 1 and not (new / "otpd.sqlite3").exists()
    shutil.copy(data_dir / KEY_FILE_NAME, new / KEY_FILE_NAME)
    restored = run_cli("restore", "--from", str(backup), "--data-dir", str(new))
    assert restored.returncode == 0, restored.stderr
    occupied = run_cli("restore", "--from", str(backup), "--data-dir", str(new))
    assert occupied.returncode == 1
    now = int(__import__("time").time())
    d = open_services(new, now)
    try:
        for name, secret in before.items():
            record = d.store.get_credential("acme", name)
            assert record is not None, name
            assert record.last_step >= now // 30 + record.params.skew  # the replay floor
            assert not d.services.credentials.verify(
                d.principal(), name, oathtool(secret, now)
            ).accepted
            later = now + 30 * (record.params.skew + 2)
            d.clock.set(later)
            result = d.services.credentials.verify(d.principal(), name, oathtool(secret, later))
            assert result.outcome is Outcome.ACCEPTED, name
            d.clock.set(now)
    finally:
        d.store.close()


def test_shamir_backup_restores_into_an_empty_directory(data_dir: Path, tmp_path: Path) -> None:
    init = run_cli(
        "init", "--shares", "3", "--threshold", "2", "--json", "--data-dir", str(data_dir)
    )
    assert init.returncode == 0, init.stderr
    backup = tmp_path / "b.sqlite3"
    assert run_cli("backup", "--data-dir", str(data_dir), "--to", str(backup)).returncode == 0
    again = run_cli("backup", "--data-dir", str(data_dir), "--to", str(backup))
    assert again.returncode == 1 and "overwrite" in again.stderr
    with_key = tmp_path / "with-key"
    with_key.mkdir()
    (with_key / KEY_FILE_NAME).write_bytes(os.urandom(32))
    refused = run_cli("restore", "--from", str(backup), "--data-dir", str(with_key))
    assert refused.returncode == 1 and "Shamir" in refused.stderr
    fresh = tmp_path / "fresh"
    restored = run_cli("restore", "--from", str(backup), "--data-dir", str(fresh))
    assert restored.returncode == 0, restored.stderr
    assert sorted(p.name for p in fresh.iterdir()) == ["otpd.sqlite3"]
    not_a_backup = tmp_path / "junk"
    not_a_backup.write_bytes(b"SQLite format 3\x00" + os.urandom(2000))
    junk = run_cli("restore", "--from", str(not_a_backup), "--data-dir", str(tmp_path / "j"))
    assert junk.returncode == 1 and "backup" in junk.stderr


def test_shamir_import_and_export_take_the_shares_on_stdin(data_dir: Path, tmp_path: Path) -> None:
    """A one-shot command cannot open sealed secrets without the key: in Shamir mode import
    and export read the unseal shares on standard input, and refuse to run without them."""
    init = run_cli(
        "init", "--shares", "3", "--threshold", "2", "--json", "--data-dir", str(data_dir)
    )
    shares = json.loads(init.stdout)["shares"]
    two = "\n".join(shares[:2]) + "\n"
    assert run_cli("tenant", "create", "acme", "--data-dir", str(data_dir)).returncode == 0
    cred = b.Cred("alice", secrets.token_bytes(20))
    harness.register_secret(cred.secret)
    source = tmp_path / "in.txt"
    source.write_bytes(b.otpauth([cred]))
    base = ["--tenant", "acme", "--format", "otpauth", "--data-dir", str(data_dir)]
    sealed = run_cli("import", *base, str(source))
    assert sealed.returncode == 1 and "unseal shares on standard input" in sealed.stderr
    piped = run_cli("import", *base, "-", input=source.read_text())
    assert piped.returncode == 1 and "as a path" in piped.stderr
    done = run_cli("import", *base, "--json", str(source), input=two)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == 1
    out = tmp_path / "out.txt"
    args = ["--tenant", "acme", "--format", "otpauth", "--insecure-plaintext"]
    exported = run_cli("export", *args, "--data-dir", str(data_dir), str(out), input=two)
    assert exported.returncode == 0, exported.stderr
    assert "alice" in out.read_text()
    for text in (done.stdout, done.stderr, exported.stdout, exported.stderr):
        assert not leaked(cred.secret, text)
    for share in shares:
        assert share not in done.stdout + done.stderr + exported.stdout + exported.stderr
