"""The cost of per-tenant data keys (issue #14) against the keyring-only sealing they replace.

    .venv/bin/python -m bench.tenant_keys [--count N]

One SQLite data directory; the same SealManager seals and opens N secrets twice: as before
per-tenant keys (no key rows: the keyring's data key, format 1) and with them (format 2: a
write reads the tenant's key versions from the database, a read uses the per-process cache).
Prints each as a ratio to the keyring-only baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from otpd.core.model import SecretBytes, Tenant
from otpd.crypto import open_seal
from otpd.crypto.sealer import SealManager
from otpd.store.sqlite import SqliteStore

SECRET = SecretBytes(b"12345678901234567890")


def _rate(count: int, work: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for i in range(count):
        work(i)
    return count / (time.perf_counter() - started)


def _measure(sealer: SealManager, count: int) -> tuple[float, float]:
    blobs = [sealer.seal_secret(SECRET, tenant="acme", credential_id=i) for i in range(count)]
    seal = _rate(count, lambda i: sealer.seal_secret(SECRET, tenant="acme", credential_id=i))
    opened = _rate(count, lambda i: sealer.open_secret(blobs[i], tenant="acme", credential_id=i))
    return seal, opened


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    count = parser.parse_args().count
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "otpd.sqlite3")
        store.create_tenant(Tenant(id="acme"))
        sealer = open_seal(Path(tmp), store)
        tenant_seal, tenant_open = _measure(sealer, count)
        sealer._key_rows = None  # the same sealer without key rows: keyring-only, as before
        base_seal, base_open = _measure(sealer, count)
        store.close()
    print(f"{'operation':<8} {'keyring-only/s':>15} {'per-tenant/s':>13} {'ratio':>6}")
    for name, base, tenant in (("seal", base_seal, tenant_seal), ("open", base_open, tenant_open)):
        print(f"{name:<8} {base:>15.0f} {tenant:>13.0f} {tenant / base:>6.2f}")


if __name__ == "__main__":
    main()
