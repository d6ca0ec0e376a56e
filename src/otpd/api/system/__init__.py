"""Seal and unseal: Strongbox's system paths (NOTES.md §4, §7)."""

from otpd.api.system.routes import ROUTES

__all__ = ["ROUTES"]
