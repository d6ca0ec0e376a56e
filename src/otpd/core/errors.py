"""The otpd error tree. Domain errors carry no HTTP; each API adapter maps them in one table.

    OtpdError
     ├── InvalidInput          a request field breaks a rule (names the field, never echoes it)
     ├── NotFound              no such object in the caller's tenant
     ├── AlreadyExists         a name is taken in the tenant
     ├── PreconditionFailed    the object changed since the caller read it (If-Match)
     ├── Unauthenticated       no, wrong or expired credentials
     ├── Forbidden             authenticated, but the scope is missing
     ├── Sealed                the seal key is not in memory
     ├── InvalidShare          a malformed or foreign unseal share (it does not count)
     ├── SecretCorrupted       a stored ciphertext failed authentication
     │                         (docs/requirements.md#encrypted-at-rest)
     ├── StoreUnavailable      the database could not be reached or written
     └── ConfigError           a setting, key file or database refuses start-up

A verification *result* (accepted, rejected, replayed, throttled) is a value, not an error:
exceptions mean "could not evaluate".
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "ConfigError",
    "Forbidden",
    "InvalidInput",
    "InvalidShare",
    "NotFound",
    "OtpdError",
    "PreconditionFailed",
    "Sealed",
    "SecretCorrupted",
    "StoreUnavailable",
    "Unauthenticated",
]


class OtpdError(Exception):
    """Base of every error otpd raises on purpose."""


class InvalidInput(OtpdError):
    """A field breaks a rule. The message names the field and the rule, never the value."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule


class NotFound(OtpdError):
    pass


class AlreadyExists(OtpdError):
    pass


class PreconditionFailed(OtpdError):
    """A conditional write found the object at another version than the caller expected."""


class Unauthenticated(OtpdError):
    pass


class Forbidden(OtpdError):
    pass


class Sealed(OtpdError):
    def __init__(self) -> None:
        super().__init__("sealed")


class InvalidShare(OtpdError):
    """An unseal share that is malformed, foreign to this store, or already given."""


class SecretCorrupted(OtpdError):
    pass


class StoreUnavailable(OtpdError):
    pass


class ConfigError(OtpdError):
    pass
