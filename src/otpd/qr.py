"""otpauth URI -> QR code image, rendered locally (docs/requirements.md#local-qr: enrolment makes no
outbound request)."""

from __future__ import annotations

import io

import segno

__all__ = ["png_bytes"]


def png_bytes(uri: str, scale: int = 5) -> bytes:
    buffer = io.BytesIO()
    # Error correction M and a 4-module quiet zone: what phone cameras decode reliably.
    segno.make(uri, error="m", micro=False).save(buffer, kind="png", scale=scale, border=4)
    return buffer.getvalue()
