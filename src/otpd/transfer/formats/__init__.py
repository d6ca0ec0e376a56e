"""One pure parser per import format: `parse(data, options)` yields ImportRecord or RowError
and raises FormatError for a file that is unusable as a whole (docs/migrate.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from otpd.transfer.formats import authelia, gauth, keycloak, otpauth, privacyidea, pskc, seedcsv
from otpd.transfer.formats.records import (
    FormatError,
    ImportRecord,
    ParseOptions,
    Row,
    RowError,
)

__all__ = ["PARSERS", "FormatError", "ImportRecord", "ParseOptions", "Row", "RowError"]

PARSERS: dict[str, Callable[[bytes, ParseOptions], Iterator[Row]]] = {
    "otpauth": otpauth.parse,
    "gauth-migration": gauth.parse,
    "pskc": pskc.parse,
    "privacyidea": privacyidea.parse,
    "authelia": authelia.parse,
    "keycloak": keycloak.parse,
    "csv": seedcsv.parse,
}
