"""Seal, unseal and export: Strongbox's system paths (NOTES.md §4, §7)."""

from otpd.api.system.errors import render_domain_error
from otpd.api.system.routes import PREFIX, ROUTES

__all__ = ["PREFIXES", "ROUTES", "render_domain_error"]

PREFIXES = (PREFIX + "/",)
