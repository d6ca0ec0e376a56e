"""The Token2 TOTPRadius Web API, issue #5: /createuser, /validate, /api.php?action=listusers,
the enrolment images under /qr/ and the WordPress plugin's /protected/json/sms/ leftover."""

from otpd.api.token2.routes import render_domain_error, render_error, routes

__all__ = ["PREFIXES", "render_domain_error", "render_error", "routes"]

# Every path here is gated while sealed (docs/requirements.md#encrypted-at-rest) and fails in the
# Token2 format.
PREFIXES = ("/createuser", "/validate", "/api.php", "/qr/", "/protected/json/sms/")
