"""Seal, unseal and export: Strongbox's system paths (docs/requirements.md#encrypted-at-rest)."""

from otpd.api.system.errors import render_domain_error
from otpd.api.system.routes import PREFIX, ROUTES

__all__ = ["PREFIXES", "ROUTES", "render_domain_error"]

PREFIXES = (PREFIX + "/",)
