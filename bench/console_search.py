"""Console credential search over 1,000,000 rows (issue #16): keyset paging on the UNIQUE
(tenant, name) index stays as fast on a deep page as on the first.

Populates one tenant of a fresh SQLite file through the bulk port (BulkCredentialStore, issue
#17; sealed blobs are placeholders: nothing is decrypted here), then times, each as the median
of many runs and printed as a ratio to a point lookup (`get_credential`) in the same run:
- page 1 of the whole tenant, a prefix search, a deep keyset page (after the 900,000th name);
- for contrast, the same deep page fetched with LIMIT/OFFSET, which the console never does.

    .venv/bin/python -m bench.console_search [--rows 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from otpd.core.console import PAGE_SIZE
from otpd.core.model import CredentialRecord, OtpParams, Tenant
from otpd.store.sqlite import SqliteStore

BATCH = 20_000


def _populate(store: SqliteStore, rows: int) -> None:
    store.create_tenant(Tenant(id="acme"))
    for start in range(0, rows, BATCH):
        count = min(BATCH, rows - start)
        ids = store.allocate_credential_ids(count)
        records = [
            CredentialRecord(
                id=ids[i],
                tenant="acme",
                name=f"user{start + i:07d}",
                params=OtpParams(),
                key_size=20,
                issuer="acme",
                account_name=f"user{start + i:07d}",
                email=None,
                phone=None,
                created_at_us=0,
                sealed_secret=bytes(48),
            )
            for i in range(count)
        ]
        store.write_credentials(records, [])


def _median_us(call: Callable[[], object], runs: int = 200) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "otpd.sqlite3", synchronous="NORMAL")
        started = time.perf_counter()
        _populate(store, args.rows)
        print(f"populated {args.rows:,} rows in {time.perf_counter() - started:.1f} s")
        deep = f"user{args.rows * 9 // 10:07d}"
        point = _median_us(lambda: store.get_credential("acme", deep))
        cases: dict[str, Callable[[], object]] = {
            "page 1 (all names)": lambda: store.search_credentials("acme", "", "", PAGE_SIZE),
            "prefix 'user05' page 1": lambda: store.search_credentials(
                "acme", "user05", "", PAGE_SIZE
            ),
            "deep keyset page (after 90%)": lambda: store.search_credentials(
                "acme", "", deep, PAGE_SIZE
            ),
        }
        offset = args.rows * 9 // 10
        sql = "SELECT id FROM credential WHERE tenant = 'acme' ORDER BY name LIMIT 50 OFFSET ?"
        print(f"point lookup (get_credential): {point:9.1f} us  (1.0x, the baseline)")
        for label, call in cases.items():
            took = _median_us(call)
            print(f"{label:32s}: {took:9.1f} us  ({took / point:.1f}x point lookup)")
        took = _median_us(lambda: store._query(sql, (offset,)), runs=5)
        print(f"{'OFFSET page at 90% (not used)':32s}: {took:9.1f} us  ({took / point:.1f}x)")
        store.close()


if __name__ == "__main__":
    main()
