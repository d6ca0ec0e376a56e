"""Token2 test helpers: real parsers for every format (the client is tests/support/clients.py).

Format 0 is parsed by PHP's own unserialize() (Debian's php-cli: CI installs it), format 2 by
an XML parser, format 1 by json; nothing here is skipped when a tool is missing.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from tests.support import server as harness

# PHP's unserialize() of standard input, printed as JSON; `false` means it refused the input.
_PHP = "echo json_encode(unserialize(stream_get_contents(STDIN)), JSON_UNESCAPED_UNICODE);"


def php_unserialize(body: bytes) -> Any:
    exe = shutil.which("php")
    assert exe, "php-cli is required (Debian package php-cli)"
    result = subprocess.run([exe, "-r", _PHP], input=body, capture_output=True, timeout=30)
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout)
    assert value is not False, f"PHP's unserialize refused {body[:200]!r}"
    return value


def xml_fields(body: bytes) -> dict[str, Any]:
    """<result><a>x</a><code>1</code><code>2</code></result> -> {"a": "x", "code": ["1", "2"]}."""
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)  # noqa: S314 (our own server's output; expat fetches nothing)
    assert root.tag == "result"
    return _element_fields(root)


def _element_fields(element: ET.Element) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for child in element:
        text = child.text or ""
        if child.tag in fields:
            previous = fields[child.tag]
            fields[child.tag] = (
                [*previous, text] if isinstance(previous, list) else [previous, text]
            )
        else:
            fields[child.tag] = [text] if child.tag == "code" else text
    return fields


def xml_users(body: bytes) -> list[dict[str, Any]]:
    root = ET.fromstring(body)  # noqa: S314 (as above)
    assert root.tag == "result" and all(child.tag == "user" for child in root)
    return [_element_fields(child) for child in root]


def parse_any(response: httpx.Response, fmt: str) -> Any:
    """The body through the real parser of `fmt` (0, 1, 2), checking the content type."""
    ctype = response.headers["content-type"]
    if fmt == "1":
        assert ctype == "application/json; charset=utf-8"
        return response.json()
    if fmt == "2":
        assert ctype == "application/xml; charset=utf-8"
        return xml_fields(response.content)
    assert ctype == "text/plain; charset=utf-8"
    if fmt == "3":
        assert response.text in ("true", "false")
        return response.text
    return php_unserialize(response.content)


def as_strings(value: Any) -> Any:
    """JSON's createuser userid is a number; XML has only text. Compare as text."""
    if isinstance(value, dict):
        return {k: as_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_strings(v) for v in value]
    return str(value)


def oathtool(secret_b32: str, *extra: str) -> str:
    exe = shutil.which("oathtool")
    assert exe, "oathtool is required (Debian package oathtool)"
    result = subprocess.run(
        [exe, "--totp", "-b", *extra, secret_b32], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def zbarimg(png: bytes, tmp_dir: Any) -> str:
    exe = shutil.which("zbarimg")
    assert exe, "zbarimg is required (Debian package zbar-tools)"
    path = tmp_dir / "qr.png"
    path.write_bytes(png)
    result = subprocess.run(
        [exe, "--raw", "-q", str(path)], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def wordpress_secret(hashqr: str) -> str:
    """The plugin's "Can't scan?" button: url.split("?secret")[1].replace(/\\W/g, '')."""
    return re.sub(r"[^A-Za-z0-9_]", "", hashqr.split("?secret")[1])


def register_hash(secret_b32: str) -> None:
    harness.register_secret(base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8)))
