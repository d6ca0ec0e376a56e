"""No redirect ever repeats a query string: with Starlette's slash redirects, `GET /validate/?
api_key=...&token=...` answered 307 with the API key in Location, and `/qr/<ticket>.png/?
secret=...` the TOTP secret. Every vendor path is exact, so a stray slash is each API's 404."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.deployment import Deployment, start_deployment

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    data_dir = tmp_path_factory.mktemp("redirects") / "data"
    with start_deployment(data_dir, "redirects", roles=("admin",)) as running:
        yield running


def _cases(key: str) -> list[tuple[str, str]]:
    return [
        ("GET", f"/validate/?api_key={key}&token=123456&userid=1&format=1"),
        ("POST", f"/validate/?api={key}&token=123456&userid=1"),
        ("GET", f"/createuser/?api={key}&phone=%2B46700000000&pin=1234"),
        ("GET", f"/api.php/?api_key={key}&action=listusers"),
        ("GET", f"/qr/0123456789abcdef0123456789abcdef.png/?secret={SECRET}"),
        ("GET", f"/protected/json/sms/1/?api_key={key}"),
        ("GET", f"/v1/config/strongbox/totp/?passcode32={SECRET}"),
        ("GET", f"/v1/config/strongbox/totp/x/?passcode32={SECRET}"),
        ("POST", f"/v1/login/?password={key}"),
        ("POST", f"/v1/state/strongbox/token/refresh/?token={key}"),
        ("GET", f"/v1/state/strongbox/system/seal-status/?share={SECRET}"),
        ("PUT", f"/api/authentication/otp_token_auth//?otp={SECRET}"),
        ("GET", f"/healthz/?secret={SECRET}"),
    ]


def test_no_redirect_carries_a_query_or_a_secret(server: Deployment) -> None:
    key = server.keys["admin"]
    with httpx.Client(base_url=server.url, timeout=10, follow_redirects=False) as http:
        for method, url in _cases(key):
            response = http.request(method, url)
            location = response.headers.get("location", "")
            assert not 300 <= response.status_code < 400, (method, url, response.status_code)
            assert "?" not in location and SECRET not in location and key not in location
            assert response.status_code in (404, 405), (method, url, response.status_code)
            assert SECRET not in response.text and key not in response.text
