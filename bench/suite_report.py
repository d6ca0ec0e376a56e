"""The suite's report (bench/suite.py): a table per synchronous mode, the enrolment rates, and
the figures against issue #12's targets (reported, never asserted)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.suite import Enrolment, Row

__all__ = ["baseline", "print_report", "print_table"]

VERIFY = ("validate", "put", "verify")  # words naming the verification paths


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table: first two columns left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            cell.ljust(w) if i < 2 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )

    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def baseline(rows: Sequence[Row], sync: str) -> float:
    """The mean req/s of the mode's healthz runs before and after."""
    rates = [r.rps for r in rows if r.sync == sync and r.path.startswith("healthz")]
    return sum(rates) / len(rates) if rates else 0.0


def is_verify(row: Row) -> bool:
    return any(word in row.path for word in VERIFY) and not row.path.endswith("+fsync")


def cpu_baseline(rows: Sequence[Row], sync: str) -> float:
    """The mean CPU microseconds per request of the mode's healthz runs before and after."""
    costs = [r.cpu_us for r in rows if r.sync == sync and r.path.startswith("healthz")]
    return sum(costs) / len(costs) if costs else 0.0


def _mode_table(rows: Sequence[Row], sync: str) -> None:
    base = baseline(rows, sync)
    cpu_base = cpu_baseline(rows, sync)
    print(f"\nsynchronous={sync}: baseline healthz {base:.0f} req/s (mean of before and after)")
    table = [
        [
            f"{r.size:,}" if r.size else "-",
            r.path,
            f"{r.rps:.0f}",
            f"{r.p50_ms:.1f}",
            f"{r.p99_ms:.1f}",
            f"{r.rss_mb:.0f}",
            f"{r.rps / base:.2f}" if base else "-",
            f"{r.cpu_us:.0f}",
            f"{r.cpu_us / cpu_base:.1f}" if cpu_base else "-",
            r.ok,
            r.other,
            r.wrapped if "valid" in r.path.split() else "-",
        ]
        for r in rows
        if r.sync == sync
    ]
    headers = ["users", "path", "req/s", "p50 ms", "p99 ms", "RSS MB", "vs healthz"]
    headers += ["CPU us", "CPU x"]
    print_table([*headers, "expected", "other", "wrapped"], table)


def _targets(
    args: argparse.Namespace, rows: Sequence[Row], enrolments: Sequence[Enrolment]
) -> None:
    small, large = args.sizes[0], args.sizes[-1]
    lines: list[tuple[str, str, bool]] = []
    for sync in args.syncs:
        base = baseline(rows, sync)
        verify = [r for r in rows if r.sync == sync and is_verify(r)]
        if not verify or not base:
            continue
        worst = min(verify, key=lambda r: r.rps)
        lines.append((
            f"{sync}: every verification path >= 0.5 x healthz",
            f"lowest {worst.rps / base:.2f} ({worst.path}, {worst.size:,} users)",
            worst.rps / base >= 0.5,
        ))  # fmt: skip
        slow = max((r for r in rows if r.sync == sync and r.size), key=lambda r: r.p99_ms)
        lines.append((
            f"{sync}: p99 <= 25 ms at {args.connections} connections",
            f"highest {slow.p99_ms:.1f} ms ({slow.path}, {slow.size:,} users)",
            slow.p99_ms <= 25,
        ))  # fmt: skip
        at = {(r.path, r.size): r.rps for r in verify}
        kept = [at[p, large] / at[p, small] for p, s in at if s == small and (p, large) in at]
        if kept and large != small:
            lines.append((
                f"{sync}: {large:,}-user req/s >= 0.9 x {small:,}-user",
                f"lowest {min(kept):.2f}",
                min(kept) >= 0.9,
            ))  # fmt: skip
        rss = max(r.rss_mb for r in rows if r.sync == sync)
        lines.append((f"{sync}: RSS per worker <= 150 MB", f"{rss:.0f} MB", rss <= 150))
        loaded = [r for r in rows if r.sync == sync and r.path.endswith("+fsync")]
        for r in loaded:
            quiet = at.get((r.path.removesuffix(" +fsync"), r.size), 0.0)
            ratio = r.rps / quiet if quiet else 0.0
            lines.append((
                f"{sync}: within 2x with another process syncing the disk",
                f"{ratio:.2f} x without ({r.path})",
                ratio >= 0.5,
            ))  # fmt: skip
    for e in enrolments:
        lines.append((
            f"{e.sync}: bulk enrolment >= 5,000 credentials/s",
            f"{e.net_rate:,.0f}/s net, {e.rate:,.0f}/s whole command ({e.rows:,} users)",
            e.net_rate >= 5000,
        ))  # fmt: skip
    print("\nissue #12 targets (reported, not asserted)")
    print_table(
        ["target", "measured", "met"], [[t, m, "yes" if ok else "NO"] for t, m, ok in lines]
    )


def print_report(
    args: argparse.Namespace, rows: Sequence[Row], enrolments: Sequence[Enrolment]
) -> None:
    print(
        f"otpd benchmark suite: {' then '.join(f'{s:,}' for s in args.sizes)} users,"
        f" wrk -t1 -c{args.connections}, {args.seconds} s per path,"
        f" {args.workers} worker(s){' pinned to one CPU each' if args.pin_workers else ''};"
        " figures to quote are the ratios"
    )
    for sync in args.syncs:
        _mode_table(rows, sync)
    print("\nexpected = accepted for valid codes, rejected for wrong ones, 201/200 for the rest;")
    print("wrapped = requests that reused a user within its second (a replay, so rejected)")
    print("CPU us = the workers' CPU time per request (all threads, user + system);")
    print("CPU x = that over healthz's: the ratio req/s tends to when the server is CPU-bound")
    print("\nenrolment with `otpd import --format otpauth`")
    print_table(
        ["sync", "users", "imported", "seconds", "start-up s", "credentials/s", "net of start-up"],
        [[e.sync, f"{e.size:,}", f"{e.rows:,}", f"{e.seconds:.1f}", f"{e.startup:.1f}",
          f"{e.rate:,.0f}", f"{e.net_rate:,.0f}"] for e in enrolments],
    )  # fmt: skip
    print("start-up = the same command's dry run of one user (process start, imports, seal)")
    _targets(args, rows, enrolments)
