"""otpd: a self-hosted one-time-password server speaking three vendor APIs over one core."""

__all__ = ["__version__"]

__version__ = "0.1.0"
