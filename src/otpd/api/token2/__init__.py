"""The Token2 TOTPRadius Web API, issue #5: /createuser, /validate, /api.php?action=listusers,
the enrolment images under /qr/ and the WordPress plugin's /protected/json/sms/ leftover."""

from otpd.api.token2.routes import ROUTES, render_error

__all__ = ["PREFIXES", "ROUTES", "render_error"]

# Every path here is gated while sealed (NOTES.md §4) and fails in the Token2 format.
PREFIXES = ("/createuser", "/validate", "/api.php", "/qr/", "/protected/json/sms/")
