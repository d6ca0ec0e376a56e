"""Storage behind `otpd.core.ports.CredentialStore`: SQLite (embedded default) and in-memory."""

__all__: list[str] = []
