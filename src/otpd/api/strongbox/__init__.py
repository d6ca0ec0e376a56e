"""The Strongbox TOTP API (Avassa), issue #4."""

from otpd.api.strongbox.routes import ROUTES

__all__ = ["ROUTES"]
