"""SealService: unsealing and sealing (docs/requirements.md#encrypted-at-rest), and the two
looks at the seal every other service takes before touching a secret.

Unseal shares are the authority, so submitting one needs no principal; sealing needs scope
seal and waits for the verifications under way in this process (core.inflight).
"""

from __future__ import annotations

from otpd.core import access
from otpd.core.context import ServiceContext
from otpd.core.errors import Sealed
from otpd.core.inflight import InFlight
from otpd.core.model import CredentialRecord, Principal, Scope, SealStatus, SecretBytes
from otpd.core.ports import Sealer

__all__ = ["SealService", "open_record_secret", "require_unsealed"]


def require_unsealed(sealer: Sealer) -> None:
    if sealer.is_sealed():
        raise Sealed()


def open_record_secret(sealer: Sealer, record: CredentialRecord) -> SecretBytes:
    """A stored credential's secret (Sealed, or SecretCorrupted if the ciphertext was altered
    or moved to another row: it is bound to the tenant and id)."""
    return sealer.open_secret(record.sealed_secret, tenant=record.tenant, credential_id=record.id)


class SealService:
    def __init__(self, sealer: Sealer, context: ServiceContext, in_flight: InFlight) -> None:
        self._sealer = sealer
        self._context = context
        self._in_flight = in_flight  # the verifications of this process, which seal() waits for

    def seal_status(self) -> SealStatus:
        return self._sealer.status()

    def submit_unseal_share(self, share: str) -> SealStatus:
        with self._context.audited(None, "unseal.share"):
            status = self._sealer.submit_share(share)
        if not status.sealed:
            self._context.emit("unseal", "ok")
        return status

    def reset_unseal(self, nonce: str) -> SealStatus:
        return self._sealer.reset_progress(nonce)

    def seal(self, principal: Principal) -> SealStatus:
        with self._context.audited(principal, "seal"):
            access.require(principal, Scope.SEAL)
            with self._in_flight.exclusive():  # a verification under way commits wholly first
                self._sealer.seal()
        return self._sealer.status()
