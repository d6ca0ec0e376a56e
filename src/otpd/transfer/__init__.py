"""Moving credentials in and out of otpd (issue #17): import from other OTP servers and apps,
PSKC and otpauth export, and SQLite backup and restore. See docs/migrate.md."""
