"""Token2 bodies and the four response formats (docs/requirements.md#output-encoding,
docs/api-token2.md).

A body is a mapping of field names to strings, integers or lists of strings (or, for
listusers, a list of such mappings), rendered as:

- 0 PHP `serialize()`: `s:<length in UTF-8 bytes>:"...";`, integers `i:N;`, lists as arrays
  with keys 0..n-1 (text/plain);
- 1 JSON (application/json), ASCII with `\\u` escapes;
- 2 XML (application/xml): `<?xml ...?>` and a root `<result>` with one element per field, a
  list as one element per item under the field's name, a listusers row as `<user>`;
- 3 plain text (text/plain): exactly `true` or `false`.

Every content type says `charset=utf-8`. Strings are made valid Unicode first (a lone surrogate
becomes U+FFFD), and XML drops nothing silently: characters XML 1.0 cannot carry become U+FFFD.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from starlette.responses import Response

from otpd.api.token2.errors import Failure
from otpd.api.token2.parse import Call, Format
from otpd.core.model import CredentialRecord

__all__ = [
    "INVALID_OTP",
    "Body",
    "created",
    "failure_body",
    "hashqr",
    "json_text",
    "no_token",
    "php_serialize",
    "respond",
    "user_rows",
    "valid_otp",
    "xml_document",
]

Body = Mapping[str, Any] | Sequence[Mapping[str, Any]]

_CONTENT_TYPES = {
    Format.SERIALIZED: "text/plain; charset=utf-8",
    Format.JSON: "application/json; charset=utf-8",
    Format.XML: "application/xml; charset=utf-8",
    Format.PLAIN: "text/plain; charset=utf-8",
}
# The answers may carry a secret (createuser) and are never worth caching.
_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

# --- the bodies --------------------------------------------------------------------------

# docs/requirements.md#no-oracle: wrong, replayed, throttled, unknown user, malformed userid: this
# one answer, byte for
# byte. It names no userid, so the answer for one user id equals the answer for any other.
INVALID_OTP: Mapping[str, str] = {"response": "OTP is not valid", "validation": "false"}
_NO_TOKEN_TEXT = "Enter the code shown by your authenticator app"  # noqa: S105 (no SMS here)


def valid_otp(userid_text: str) -> dict[str, str]:
    return {"response": "OTP is valid", "userid": userid_text, "validation": "true"}


def no_token(userid_text: str) -> dict[str, str]:
    """validate without a token or with send=1 (the Cloud API's SMS trigger). The WordPress
    plugin shows `response` on its login page; nothing is looked up, so it is no oracle."""
    return {"response": _NO_TOKEN_TEXT, "userid": userid_text, "validation": "false"}


def hashqr(base_url: str, ticket: str, secret_b32: str) -> str:
    """The WordPress plugin shows `hashqr.split("?secret")[1]` without non-word characters as
    the manual-entry key, so `?secret=` comes once and the secret is the last thing."""
    return f"{base_url}/qr/{ticket}.png?secret={secret_b32}"


def created(userid: int, secret_b32: str, qr_url: str) -> dict[str, Any]:
    # userid as a JSON number: the plugin checks is_numeric() and casts it (docs/api-token2.md).
    return {
        "response": "user created",
        "userid": userid,
        "success": "true",
        "hash": secret_b32,
        "hashqr": qr_url,
    }


def user_rows(records: Iterable[CredentialRecord]) -> list[dict[str, str]]:
    """listusers: the caller's tenant only, by userid; `registered` in UTC (docs/api-token2.md)."""
    return [
        {
            "userid": str(record.id),
            "username": record.name,
            "registered": datetime.fromtimestamp(record.created_at_us / 1e6, UTC).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
        }
        for record in sorted(records, key=lambda r: r.id)
    ]


def failure_body(call: Call, failure: Failure) -> dict[str, Any]:
    """What each call's clients read: createuser `success`, `response`, `error` and `code`
    (the WordPress plugin); validate `validation`; listusers and the rest `success`."""
    if call is Call.CREATEUSER:
        text = failure.text
        return {"response": text, "success": "false", "error": text, "code": list(failure.codes)}
    if call is Call.VALIDATE:
        return {"response": failure.text, "validation": "false"}
    return {"success": "false", "response": failure.text}


# --- the formats -------------------------------------------------------------------------


def respond(
    body: Body,
    fmt: Format,
    *,
    ok: bool,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    clean = _clean(body)
    if fmt is Format.JSON:
        text = json_text(clean)
    elif fmt is Format.XML:
        text = xml_document(clean)
    elif fmt is Format.PLAIN:
        text = "true" if ok else "false"
    else:
        text = php_serialize(clean)
    return Response(
        text.encode("utf-8"),
        status_code=status,
        headers={**_HEADERS, **(headers or {})},
        media_type=_CONTENT_TYPES[fmt],
    )


def json_text(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"))


def php_serialize(value: Any) -> str:
    """PHP's serialize() of strings, integers, lists and string-keyed mappings."""
    if isinstance(value, bool):
        return f"b:{int(value)};"
    if isinstance(value, int):
        return f"i:{value};"
    if isinstance(value, str):
        return f's:{len(value.encode("utf-8"))}:"{value}";'
    if value is None:
        return "N;"
    if isinstance(value, Mapping):
        items = "".join(php_serialize(str(k)) + php_serialize(v) for k, v in value.items())
        return f"a:{len(value)}:{{{items}}}"
    if isinstance(value, Sequence):
        items = "".join(php_serialize(i) + php_serialize(v) for i, v in enumerate(value))
        return f"a:{len(value)}:{{{items}}}"
    raise TypeError(f"cannot serialize {type(value).__name__}")


def xml_document(body: Body) -> str:
    if isinstance(body, Mapping):
        inner = _xml_fields(body)
    else:
        inner = "".join(f"<user>{_xml_fields(row)}</user>" for row in body)
    return f"{_XML_DECLARATION}<result>{inner}</result>"


def _xml_fields(fields: Mapping[str, Any]) -> str:
    # Field names are ours (response, userid, ...), always valid element names.
    parts = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f"<{name}>{_xml_text(item)}</{name}>")
    return "".join(parts)


def _xml_text(value: Any) -> str:
    return escape(_NOT_XML.sub("\ufffd", str(value)))


def _clean(value: Any) -> Any:
    """Valid Unicode everywhere, so every format can encode the same text
    (docs/requirements.md#output-encoding)."""
    if isinstance(value, str):
        return value if value.isascii() else value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value
