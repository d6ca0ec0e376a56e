"""The pure domain: OTP maths, model, policy and the one service adapters call.

Nothing here imports a web framework, a database driver or a crypto library
(enforced by import-linter, see pyproject.toml).
"""

__all__: list[str] = []
