"""The import, export, backup and restore subcommands (issue #17), registered by otpd.cli.

They work on the data directory like the other admin commands: whoever can read it holds
every secret anyway, so the command line acts with scopes write and reveal, named as the local
user (`cli:<user>`). Every import and export is audited (docs/operations.md#audit-trail).
Reports and errors name rows and credentials, never secrets.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from otpd.bootstrap import Runtime, build_runtime, open_store
from otpd.core.audit import current_context
from otpd.core.bulk import Conflict
from otpd.core.errors import ConfigError, OtpdError
from otpd.core.model import Principal, Scope
from otpd.settings import Settings
from otpd.transfer.formats import PARSERS, FormatError
from otpd.transfer.importer import (
    ConflictError,
    ImportOptions,
    ImportReport,
    ReplayFloor,
    run_import,
)

__all__ = ["add_parsers", "handlers"]

Common = Callable[..., None]
SettingsFor = Callable[[argparse.Namespace], Settings]
CLI_SCOPES = frozenset({Scope.READ, Scope.WRITE, Scope.REVEAL})


def add_parsers(commands: Any, common: Common) -> None:
    _add_import(commands, common)
    _add_export(commands, common)
    bak = commands.add_parser("backup", help="copy the database while the server runs")
    bak.add_argument("--to", required=True, dest="to", help="backup file to write")
    common(bak, "data_dir", "database", "config")
    res = commands.add_parser("restore", help="restore a backup into a new data directory")
    res.add_argument("--from", required=True, dest="source", help="backup file to read")
    res.add_argument(
        "--data-dir", required=True, dest="data_dir", help="new data directory to create"
    )


def _add_import(commands: Any, common: Common) -> None:
    imp = commands.add_parser("import", help="import credentials from another OTP system")
    imp.add_argument("--tenant", required=True, help="tenant to import into")
    imp.add_argument("--format", required=True, choices=sorted(PARSERS), help="the file's format")
    imp.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    imp.add_argument(
        "--on-conflict",
        choices=[c.value for c in Conflict],
        default="fail",
        help="what a name already present does (default fail; docs/migrate.md)",
    )
    imp.add_argument(
        "--replay-floor",
        default="now",
        help="carried | now | now+N (default now; see docs/migrate.md)",
    )
    imp.add_argument("--key-file", help="PSKC password or pre-shared key (hex)")
    imp.add_argument("--name-template", default="{account}", help="e.g. {issuer}-{account}")
    imp.add_argument(
        "--secret-encoding",
        choices=["auto", "base32", "hex"],
        default="auto",
        help="how secrets in the file are written (default auto)",
    )
    imp.add_argument("--strict", action="store_true", help="one refused row refuses the file")
    imp.add_argument("--json", action="store_true", help="print the report as JSON")
    imp.add_argument("file", help="the export file, or - for standard input")
    common(imp, "data_dir", "database", "config")


def _add_export(commands: Any, common: Common) -> None:
    exp = commands.add_parser("export", help="export a tenant's credentials (with secrets)")
    exp.add_argument("--tenant", required=True, help="tenant to export")
    exp.add_argument("--format", required=True, choices=["pskc", "otpauth"], help="output format")
    exp.add_argument("--key-file", help="file holding the PSKC password")
    exp.add_argument(
        "--pskc-profile",
        choices=["otpd", "privacyidea"],
        default="otpd",
        help="privacyidea: AES-128 under the pre-shared key (hex) in --key-file",
    )
    exp.add_argument("--select", help="only names matching this glob, e.g. 'a*'")
    exp.add_argument("--insecure-plaintext", action="store_true", help="allow --format otpauth")
    exp.add_argument("file", help="output file (created, never overwritten), or - for stdout")
    common(exp, "data_dir", "database", "config")


def handlers(settings_for: SettingsFor) -> dict[str, Callable[[argparse.Namespace], int]]:
    return {
        "import": lambda args: _import(args, settings_for(args)),
        "export": lambda args: _export(args, settings_for(args)),
        "backup": lambda args: _backup(settings_for(args), Path(args.to)),
        "restore": _restore,
    }


def _import(args: argparse.Namespace, settings: Settings) -> int:
    options = ImportOptions(
        format=args.format,
        on_conflict=Conflict(args.on_conflict),
        replay_floor=ReplayFloor.parse(args.replay_floor),
        name_template=args.name_template,
        key=Path(args.key_file).read_bytes() if args.key_file else None,
        secret_encoding=args.secret_encoding,
        dry_run=args.dry_run,
        strict=args.strict,
    )
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    runtime = build_runtime(settings)
    try:
        _unseal(runtime, stdin_taken=args.file == "-")
        bulk = runtime.bulk
        principal = _principal(args.tenant)
        progress = _ProgressBar() if sys.stderr.isatty() else None
        try:
            report = run_import(bulk, principal, data, options, progress)
        except FormatError as error:
            raise OtpdError(f"cannot import: {error}") from None
        except ConflictError as error:
            _print_report(error.report, args.json)
            raise
    finally:
        runtime.close()
    _print_report(report, args.json)
    return 1 if report.count("refused") else 0


def _principal(tenant: str) -> Principal:
    """The command line's principal, named in the audit trail as otpd.cli names the user."""
    return Principal(tenant, current_context().caller, CLI_SCOPES)


def _print_report(report: ImportReport, as_json: bool) -> None:
    summary = report.summary()
    if as_json:
        rows = [
            {"row": r.row, "name": r.name, "status": r.status, "reason": r.reason}
            for r in report.rows
        ]
        print(json.dumps({"dry-run": report.dry_run, **summary, "rows": rows}))
        return
    for r in report.rows:
        if r.status in ("refused", "skipped"):
            print(f"row {r.row} ({r.name or '?'}): {r.status}: {r.reason}")
    counts = ", ".join(f"{k} {v}" for k, v in summary.items())
    print(counts + (" (dry run: nothing written)" if report.dry_run else ""))


class _ProgressBar:
    """Rows written, rows/s and the time left, redrawn on one terminal line."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        sys.stderr.write("\r" + progress_line(done, total, time.monotonic() - self.start))
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def progress_line(done: int, total: int, elapsed: float, width: int = 30) -> str:
    filled = width * done // total if total else width
    rate = done / elapsed if elapsed > 0 else 0.0
    eta = (total - done) / rate if rate else 0.0
    bar = "#" * filled + "-" * (width - filled)
    return f"[{bar}] {done}/{total} rows {rate:,.0f} rows/s ETA {eta:.0f}s"


def _unseal(runtime: Runtime, *, stdin_taken: bool) -> None:
    """Secrets are sealed under the data key: in Shamir mode this one-shot command opens it
    with the unseal shares, one a line on standard input (so the file must then be a path)."""
    if not runtime.sealer.is_sealed():
        return
    if stdin_taken or not runtime.sealer.unseal_with(sys.stdin):
        raise OtpdError(
            "sealed: give the unseal shares on standard input, one a line (and the file as a path)"
        )


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from otpd.transfer.exporter import to_otpauth, to_pskc, to_pskc_privacyidea

    if args.format == "otpauth" and not args.insecure_plaintext:
        raise OtpdError("otpauth export writes secrets in plaintext; add --insecure-plaintext")
    if args.format == "pskc" and not args.key_file:
        raise OtpdError("PSKC export needs --key-file with the password")
    password = Path(args.key_file).read_text().strip("\r\n") if args.format == "pskc" else ""
    runtime = build_runtime(settings)
    try:
        _unseal(runtime, stdin_taken=False)
        items = runtime.bulk.export(_principal(args.tenant), args.select)
    finally:
        runtime.close()
    if args.format == "otpauth":
        data = to_otpauth(items)
    elif args.pskc_profile == "privacyidea":
        data = to_pskc_privacyidea(items, password)
    else:
        data = to_pskc(items, password)
    _write_new(args.file, data)
    print(f"exported {len(items)} credential(s)", file=sys.stderr)
    return 0


def _write_new(name: str, data: bytes) -> None:
    if name == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{name} exists; export does not overwrite") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def _backup(settings: Settings, target: Path) -> int:
    from otpd.transfer.backup import backup

    store = open_store(settings)
    try:
        backup(store, target)
    finally:
        store.close()
    print(f"backup written to {target} (it holds no seal key)")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from otpd.transfer.backup import restore

    count = restore(Path(args.source), Path(args.data_dir), int(time.time()))
    print(f"restored {count} credential(s) into {args.data_dir}; replay floor applied")
    return 0
