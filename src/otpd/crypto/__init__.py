"""Secrets at rest: AES-256-GCM under data keys wrapped by a seal key
(docs/requirements.md#encrypted-at-rest,
docs/requirements.md#sealed, #key-hierarchy).

The seal key comes from the embedded key file `DATA_DIR/seal.key` (default) or from Shamir shares
(`otpd init`). Bootstrap starts one NodeSession per `otpd serve` before forking workers, and each
worker calls open_seal; one-shot CLI commands call open_seal without a node.
"""

from otpd.crypto.node import NodeSession
from otpd.crypto.sealer import SealManager, SealStatus
from otpd.crypto.setup import init_shamir, open_seal

__all__ = ["NodeSession", "SealManager", "SealStatus", "init_shamir", "open_seal"]
