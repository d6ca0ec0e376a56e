"""`otpd import`: parse a file with a pure format parser, turn each record into a credential
under otpd's rules, and write the batches through BulkService (docs/migrate.md).

Nothing is written until the whole file has parsed: a truncated file or a wrong key fails
before the first row. Each batch is one transaction. Reports name rows, never secrets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from otpd.core.bulk import BulkService, Conflict, ImportItem, Written
from otpd.core.errors import InvalidInput, OtpdError
from otpd.core.model import (
    Algorithm,
    CredentialSpec,
    OtpParams,
    Principal,
    validate_credential_name,
    validate_secret,
)
from otpd.transfer.formats import PARSERS, ImportRecord, ParseOptions, RowError

__all__ = ["ImportOptions", "ImportReport", "ReplayFloor", "ReportRow", "run_import"]

_FLOOR = re.compile(r"carried|now(?:\+([0-9]{1,3}))?")
_TEMPLATE_FIELDS = ("issuer", "account", "serial")
DEFAULT_SKEW = 1  # the window otpd gives imported credentials, as OtpParams' default


@dataclass(frozen=True)
class ReplayFloor:
    """`carried`: the old server's last step as it is (the old validator was frozen first).
    `now+N`: at least the current step plus N, the old server's forward window, so a code it
    accepted at cut-over is spent here too. `now`: N is the window the file names (privacyIDEA's
    timeWindow), else 1."""

    carried_only: bool = False
    window: int | None = None

    @classmethod
    def parse(cls, text: str) -> ReplayFloor:
        match = _FLOOR.fullmatch(text)
        if not match:
            raise InvalidInput("replay-floor", "must be carried, now or now+N")
        if text == "carried":
            return cls(carried_only=True)
        return cls(window=int(match.group(1)) if match.group(1) else None)

    def step(self, record: ImportRecord, now: int) -> int:
        last = -1 if record.last_step is None else record.last_step
        if self.carried_only:
            return last
        window = self.window if self.window is not None else record.window
        return max(last, now // record.period + (1 if window is None else window))


@dataclass(frozen=True)
class ImportOptions:
    format: str
    on_conflict: Conflict = Conflict.FAIL
    replay_floor: ReplayFloor = field(default_factory=ReplayFloor)
    name_template: str = "{account}"
    key: bytes | None = None
    secret_encoding: str = "auto"  # noqa: S105 (a choice of encoding, not a secret)
    dry_run: bool = False
    strict: bool = False  # one refused row refuses the whole file
    batch_size: int = 1000


@dataclass(frozen=True)
class ReportRow:
    row: int
    name: str
    status: str  # imported | replaced | skipped | refused
    reason: str = ""


@dataclass
class ImportReport:
    rows: list[ReportRow] = field(default_factory=list)
    dry_run: bool = False

    def count(self, status: str) -> int:
        return sum(1 for r in self.rows if r.status == status)

    def summary(self) -> dict[str, int]:
        return {s: self.count(s) for s in ("imported", "replaced", "skipped", "refused")}


Progress = Callable[[int, int], None]


def run_import(
    bulk: BulkService,
    principal: Principal,
    data: bytes,
    options: ImportOptions,
    progress: Progress | None = None,
) -> ImportReport:
    """Import `data`. FormatError (the file as a whole) and OtpdError (no tenant, sealed,
    a conflict under --on-conflict fail, strict mode) leave the database untouched; a
    failing batch leaves the earlier batches in place and is re-runnable with skip."""
    parser = PARSERS.get(options.format)
    if parser is None:
        raise InvalidInput("format", "must be one of " + ", ".join(PARSERS))
    _check_template(options.name_template)
    parse_options = ParseOptions(key=options.key, secret_encoding=options.secret_encoding)
    now = bulk.now()
    report = ImportReport(dry_run=options.dry_run)
    items: list[tuple[int, ImportItem]] = []
    seen: dict[str, int] = {}
    for row in parser(data, parse_options):
        outcome = _item(row, options, now)
        if isinstance(outcome, ReportRow):
            report.rows.append(outcome)
        elif outcome.spec.name in seen:
            reason = f"duplicate name (also row {seen[outcome.spec.name]})"
            report.rows.append(ReportRow(row.row, outcome.spec.name, "refused", reason))
        else:
            seen[outcome.spec.name] = row.row
            items.append((row.row, outcome))
    if options.strict and report.count("refused"):
        raise OtpdError(f"{report.count('refused')} row(s) refused; nothing imported (--strict)")
    _check_conflicts(bulk, principal, items, options, report)
    _write(bulk, principal, items, options, report, progress)
    report.rows.sort(key=lambda r: r.row)
    return report


def _check_conflicts(
    bulk: BulkService,
    principal: Principal,
    items: Sequence[tuple[int, ImportItem]],
    options: ImportOptions,
    report: ImportReport,
) -> None:
    """--on-conflict fail refuses the whole import before anything is written."""
    if options.on_conflict is not Conflict.FAIL:
        return
    taken = bulk.existing_names(principal, [item.spec.name for _, item in items])
    if taken:
        for row, item in items:
            if item.spec.name in taken:
                report.rows.append(ReportRow(row, item.spec.name, "refused", "name exists"))
        report.rows.sort(key=lambda r: r.row)
        raise ConflictError(report, len(taken))


class ConflictError(OtpdError):
    def __init__(self, report: ImportReport, count: int) -> None:
        super().__init__(
            f"{count} name(s) exist in the tenant; nothing imported (--on-conflict skip or replace)"
        )
        self.report = report


def _write(
    bulk: BulkService,
    principal: Principal,
    items: Sequence[tuple[int, ImportItem]],
    options: ImportOptions,
    report: ImportReport,
    progress: Progress | None,
) -> None:
    total = len(items)
    for start in range(0, total, options.batch_size):
        batch = items[start : start + options.batch_size]
        written = bulk.import_batch(
            principal, [item for _, item in batch], options.on_conflict, dry_run=options.dry_run
        )
        for (row, item), result in zip(batch, written, strict=True):
            reason = "name exists" if result is Written.SKIPPED else ""
            report.rows.append(ReportRow(row, item.spec.name, result.value, reason))
        if progress is not None:
            progress(min(start + options.batch_size, total), total)


def _item(row: ImportRecord | RowError, options: ImportOptions, now: int) -> ImportItem | ReportRow:
    if isinstance(row, RowError):
        return ReportRow(row.row, row.label, "refused", row.reason)
    try:
        name = _name(row, options.name_template)
    except InvalidInput as error:
        return ReportRow(row.row, row.label, "refused", str(error))
    try:
        return ImportItem(
            spec=_spec(row, name),
            secret=row.secret,
            last_step=options.replay_floor.step(row, now),
        )
    except InvalidInput as error:
        return ReportRow(row.row, name, "refused", str(error))


def _check_template(template: str) -> None:
    try:
        template.format(**dict.fromkeys(_TEMPLATE_FIELDS, "x"))
    except (KeyError, IndexError, ValueError, AttributeError):
        raise InvalidInput(
            "name-template", "may only use {" + "}, {".join(_TEMPLATE_FIELDS) + "}"
        ) from None


def _name(row: ImportRecord, template: str) -> str:
    values = {"issuer": row.issuer, "account": row.account, "serial": row.serial}
    return validate_credential_name(template.format(**values))


def _spec(row: ImportRecord, name: str) -> CredentialSpec:
    """otpd's rules, checked once for every format."""
    if row.kind != "totp":
        raise InvalidInput("type", "only TOTP credentials can be imported (this is HOTP)")
    try:
        algorithm = Algorithm(row.algorithm)
    except ValueError:
        raise InvalidInput("algorithm", f"{row.algorithm.upper()[:16]} is not supported") from None
    if row.t0 != 0:
        raise InvalidInput("T0", "only T0 = 0 is supported")
    params = OtpParams(algorithm, row.digits, row.period, DEFAULT_SKEW)
    if abs(row.drift) > params.skew * params.period:
        raise InvalidInput("drift", f"{row.drift} s is wider than the verification window")
    validate_secret(row.secret)
    return CredentialSpec(
        name=name,
        params=params,
        issuer=row.issuer or "unknown",
        account_name=row.account or name,
    )
