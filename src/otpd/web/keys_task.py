"""The background re-encryption task of every worker (issue #14, otpd.crypto.reencrypt).

Each worker of each instance runs it: the per-row compare-and-set makes duplicate work harmless
and needs no leader. A pass starts only when the set of tenant key versions changed since the
last pass that left nothing stale, so an idle deployment costs one small query per interval.
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from starlette.concurrency import run_in_threadpool

from otpd.bootstrap import Runtime
from otpd.core.errors import OtpdError
from otpd.crypto.reencrypt import Reencryptor, ReencryptStore

__all__ = ["INTERVAL_SECONDS", "reencrypt_forever"]

INTERVAL_SECONDS = 2.0
log = logging.getLogger("otpd.keys")


async def reencrypt_forever(runtime: Runtime) -> None:
    store = runtime.store
    if not hasattr(store, "sealed_rows"):
        return  # a store without key rows: nothing to re-encrypt
    worker = Reencryptor(cast(ReencryptStore, store), runtime.sealer)
    while True:
        await asyncio.sleep(INTERVAL_SECONDS)
        if runtime.sealer.is_sealed():
            continue
        try:
            if await run_in_threadpool(worker.needed):
                count = await run_in_threadpool(worker.run_pass)
                if count:
                    log.info("re-encrypted %d secrets under the newest tenant keys", count)
        except OtpdError as error:  # sealed meanwhile, or a busy database: next interval
            log.warning("re-encryption pass stopped: %s", type(error).__name__)
