"""One RADIUS request, answered: the worker-thread half of the server (the store may fsync).

NAS by source address -> packet checks with its secret (Message-Authenticator, RFC 3579
§3.2) -> the NAS's mode -> one verification through RadiusGate -> a signed reply. `None`
means "send nothing": sealed, unknown NAS, wrong secret, missing Message-Authenticator, or a
store that cannot answer now (the NAS retries or fails over). Every failure a NAS may see is
the same bare Access-Reject; the reason goes to the audit log only.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from pyrad import packet

from otpd.core.audit import RequestContext, current_context, request_context
from otpd.core.errors import Sealed, StoreUnavailable
from otpd.core.model import Outcome
from otpd.core.nas import MaPolicy, NasClient, NasMode
from otpd.radius import codec
from otpd.radius.directory import bind as ldap_bind
from otpd.radius.gate import RadiusGate
from otpd.radius.registry import NasRegistry

__all__ = ["Handler"]

audit_log = logging.getLogger("otpd.audit")
log = logging.getLogger("otpd.radius")

# Attributes of the password protocols otpd does not serve (RFC 2865 §5.3, RFC 2548, RFC 3579).
_REFUSED = {
    "CHAP-Password": "chap",
    "MS-CHAP-Response": "mschap",
    "MS-CHAP2-Response": "mschapv2",
    "EAP-Message": "eap",
}
CHALLENGE_PROMPT = "Enter the code from your authenticator app"
_Outcome = tuple[int, tuple[tuple[str, Any], ...]]
_REJECT: _Outcome = (codec.ACCESS_REJECT, ())


class Handler:
    def __init__(
        self, gate: RadiusGate, *, bind: Callable[[NasClient, str, str], bool] = ldap_bind
    ) -> None:
        self.gate = gate
        self.registry = NasRegistry(gate)
        self._bind = bind
        self._quiet = _RateLimited()

    def __call__(self, request: codec.Request, source: tuple[str, int]) -> bytes | None:
        # The HTTP middleware's request context, for RADIUS: the metrics' api label and the
        # audit trail's source (the NAS's address) and caller (docs/operations.md#audit-trail).
        # Set here, in the worker thread: run_in_executor does not carry the loop's context.
        context = RequestContext(
            request_id="radius-" + secrets.token_hex(8), source=source[0], api="radius"
        )
        with request_context(context):
            return self._answer_quietly(request, source)

    def _answer_quietly(self, request: codec.Request, source: tuple[str, int]) -> bytes | None:
        try:
            return self._answer(request, source)
        except (Sealed, StoreUnavailable) as error:
            self._quiet.warn(f"radius request not answered: {type(error).__name__}")
        except Exception as error:  # a bug: one rate-limited line, not a traceback per packet
            self._quiet.warn(f"radius request failed: {type(error).__name__}")
        return None

    def _answer(self, request: codec.Request, source: tuple[str, int]) -> bytes | None:
        if self.gate.is_sealed():
            self.registry.forget()
            return None
        found = self.registry.find(source[0])
        if found is None:
            self.unknown_nas(source[0])
            return None
        nas, secret = found
        current_context().caller = f"radius:{nas.name}"
        decoded = self._authentic(request, nas, secret)
        if decoded is None:
            return None
        if request.code == codec.STATUS_SERVER:
            return codec.render(decoded, codec.ACCESS_ACCEPT)  # RFC 5997 §3: alive
        code, attributes = self._access(nas, decoded)
        return codec.render(decoded, code, attributes)

    def unknown_nas(self, address: str) -> None:
        self._quiet.audit((), "radius unknown-nas address=%s", address)

    def _authentic(
        self, request: codec.Request, nas: NasClient, secret: bytes
    ) -> packet.AuthPacket | None:
        """The decoded request if it may be answered; else an audit line and None."""
        try:
            decoded = codec.decode(request, secret)
        except codec.BadPacket:
            template = "radius dropped tenant=%s nas=%s reason=malformed"
            self._quiet.audit(_id(nas), template, *_id(nas))
            return None
        reason = None
        if request.has_message_authenticator:
            if not codec.message_authenticator_ok(decoded):
                reason = "bad-message-authenticator (wrong secret?)"
            elif nas.message_authenticator is MaPolicy.AUTO and not nas.ma_seen:
                self.registry.mark_message_authenticator(nas)
        elif request.code == codec.STATUS_SERVER:
            reason = "status-server-without-message-authenticator"  # RFC 5997 §3
        elif nas.requires_message_authenticator():
            reason = "missing-message-authenticator"
        elif request.has_proxy_state:
            reason = "proxy-state-without-message-authenticator"  # BlastRADIUS
        if reason is not None:
            template = "radius dropped tenant=%s nas=%s reason=%s"
            self._quiet.audit((*_id(nas), reason), template, *_id(nas), reason)
            return None
        return decoded

    def _access(self, nas: NasClient, decoded: packet.AuthPacket) -> _Outcome:
        for attribute, reason in _REFUSED.items():
            if attribute in decoded:
                return self._reject(nas, f"{reason}-not-supported")
        user = _text(decoded, "User-Name")
        hidden = decoded.get("User-Password")
        if not user or not hidden:
            return self._reject(nas, "no-user-name-or-password")
        try:
            password = decoded.PwDecrypt(hidden[0])
        except packet.PacketError:
            return self._reject(nas, "malformed-user-password")
        if nas.strip_realm:
            user = strip_realm(user)
        if nas.mode is NasMode.OTP:
            return self._finish(nas, user, self.gate.verify(nas, user, password))
        if nas.mode is NasMode.CHALLENGE:
            return self._challenge(nas, decoded, user, password)
        return self._password_otp(nas, user, password)

    def _challenge(
        self, nas: NasClient, decoded: packet.AuthPacket, user: str, password: str
    ) -> _Outcome:
        state = decoded.get("State")
        if state:  # the second round: State from our Access-Challenge, the code as password
            if not self.gate.take_challenge(nas, bytes(state[0]), user):
                return self._reject(nas, "unknown-or-expired-state")
            return self._finish(nas, user, self.gate.verify(nas, user, password))
        if nas.ldap_url and not self._bind(nas, user, password):
            return self._reject(nas, "first-factor-refused")
        fresh = self.gate.start_challenge(nas, user)
        audit_log.info("radius challenge tenant=%s nas=%s", *_id(nas))
        return codec.ACCESS_CHALLENGE, (("State", fresh), ("Reply-Message", CHALLENGE_PROMPT))

    def _password_otp(self, nas: NasClient, user: str, password: str) -> _Outcome:
        """The code is checked first: a wrong guess never reaches the directory, so guessing
        cannot lock the directory account."""
        digits = self.gate.code_digits(nas, user)
        secret_part, code = password[:-digits], password[-digits:]
        outcome = self.gate.verify(nas, user, code)
        if outcome is not Outcome.ACCEPTED:
            return self._finish(nas, user, outcome)
        if not secret_part or not nas.ldap_url or not self._bind(nas, user, secret_part):
            return self._reject(nas, "directory-password-refused")
        return self._finish(nas, user, outcome)

    def _finish(self, nas: NasClient, user: str, outcome: Outcome) -> _Outcome:
        if outcome is not Outcome.ACCEPTED:
            return self._reject(nas, outcome.value)
        audit_log.info("radius accept tenant=%s nas=%s mode=%s", *_id(nas), nas.mode.value)
        attributes = list(nas.reply_attributes)
        group = self.gate.group_of(nas, user) if nas.group_attribute else None
        if nas.group_attribute and group is not None:
            attributes.append((nas.group_attribute, group))
        return codec.ACCESS_ACCEPT, tuple(_typed(name, value) for name, value in attributes)

    def _reject(self, nas: NasClient, reason: str) -> _Outcome:
        audit_log.info("radius reject tenant=%s nas=%s reason=%s", *_id(nas), reason)
        return _REJECT


def strip_realm(user: str) -> str:
    """`user@realm` -> `user`, `DOMAIN\\user` -> `user` (the NAS's realm is not the name)."""
    return user.rpartition("\\")[2].partition("@")[0] or user


def _typed(name: str, value: str) -> tuple[str, Any]:
    try:
        return codec.check_reply_attribute(name, value)
    except ValueError:
        return name, value  # checked when configured; a group label is plain text


def _text(decoded: packet.AuthPacket, name: str) -> str:
    values = decoded.get(name) or []
    value = values[0] if values else ""
    return value if isinstance(value, str) else ""


def _id(nas: NasClient) -> tuple[str, str]:
    return nas.tenant, nas.name


class _RateLimited:
    """At most one line a second per kind, with the count of what was held back: a flood of
    bad packets must not become a flood of log lines. A kind is the template and the
    arguments that name a NAS or a reason (a bounded set), never a packet's source address
    (which an outsider chooses freely)."""

    def __init__(self) -> None:
        self._last: dict[tuple[object, ...], tuple[float, int]] = {}

    def audit(self, kind: tuple[object, ...], template: str, *args: object) -> None:
        self._emit(audit_log, logging.INFO, kind, template, args)

    def warn(self, text: str) -> None:
        self._emit(log, logging.WARNING, (text,), text, ())

    def _emit(
        self,
        logger: logging.Logger,
        level: int,
        kind: tuple[object, ...],
        template: str,
        args: tuple[object, ...],
    ) -> None:
        key = (template, *kind)
        now = time.monotonic()
        last, held = self._last.get(key, (float("-inf"), 0))
        if now - last < 1.0:
            self._last[key] = (last, held + 1)
            return
        self._last[key] = (now, 0)
        suffix = f" (+{held} more)" if held else ""
        logger.log(level, template + suffix, *args)
