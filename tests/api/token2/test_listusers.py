"""/api.php?action=listusers over real HTTP: the caller's tenant only, no secret in any
form, `registered` in UTC, every format, key and scope failures."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime

import pytest

from tests.support.clients import Sb
from tests.support.deployment import Deployment as Running
from tests.support.token2 import php_unserialize, xml_users


def test_lists_the_callers_tenant_only(running: Running) -> None:
    t2 = running.t2()
    before = datetime.now(UTC).replace(microsecond=0)
    mine = [t2.createuser(email=f"list{i}@example.com") for i in range(3)]
    theirs = t2.createuser(key=running.keys["globex"], email="list0@example.com")
    after = datetime.now(UTC)
    users = t2.listusers(key=running.keys["reader"])  # scope read is enough
    ids = [int(u["userid"]) for u in users]
    assert ids == sorted(ids)
    assert str(theirs["userid"]) not in {u["userid"] for u in users}
    by_id = {u["userid"]: u for u in users}
    for i, created in enumerate(mine):
        row = by_id[str(created["userid"])]
        assert set(row) == {"userid", "username", "registered"}
        assert row["username"] == f"list{i}@example.com"
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["registered"])
        registered = datetime.strptime(row["registered"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        assert before <= registered <= after
    other = t2.listusers(key=running.keys["globex"])
    assert [u["userid"] for u in other] == [str(theirs["userid"])]


def test_no_secret_in_any_read_path(running: Running) -> None:
    """after enrolment, listusers (every format) and Strongbox GET show no secret."""
    t2 = running.t2()
    created = [t2.createuser() for _ in range(2)]
    sb = Sb.login(running.server.url, "reader", running.keys["reader"])  # no scope reveal
    try:
        bodies = [
            t2.http.get(
                "/api.php",
                params={"api_key": running.keys["admin"], "action": "listusers", "format": f},
            ).text
            for f in ("0", "1", "2", "3")
        ]
        bodies.append(sb.get("/v1/config/strongbox/totp").text)
        bodies.append(sb.get("/v1/state/strongbox/totp").text)
    finally:
        sb.close()
    text = "\n".join(bodies)
    for body in created:
        raw = base64.b32decode(body["hash"])
        for form in (body["hash"], body["hash"].lower(), raw.hex(), base64.b64encode(raw).decode()):
            assert form not in text
        ticket = body["hashqr"].split("/qr/")[1].split(".png")[0]
        assert ticket not in text


def test_every_format(running: Running) -> None:
    t2 = running.t2()
    t2.createuser(email="fmt@example.com")
    params = {"api_key": running.keys["admin"], "action": "listusers"}
    as_json = t2.http.get("/api.php", params=params)
    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    rows = as_json.json()
    serialized = t2.http.get("/api.php", params={**params, "format": "0"})
    assert serialized.headers["content-type"] == "text/plain; charset=utf-8"
    assert php_unserialize(serialized.content) == rows
    as_xml = t2.http.get("/api.php", params={**params, "format": "2"})
    assert as_xml.headers["content-type"] == "application/xml; charset=utf-8"
    assert xml_users(as_xml.content) == rows
    plain = t2.http.get("/api.php", params={**params, "format": "3"})
    assert plain.text == "true"
    # unknown format values: JSON, listusers' own default (the vendor: "JSON format only")
    assert t2.http.get("/api.php", params={**params, "format": "9"}).json() == rows


def test_empty_tenant_is_an_empty_list(running: Running) -> None:
    key = running.keys["noops"]  # a tenant no test here puts a credential in
    assert running.t2().listusers(key=key) == []


@pytest.mark.parametrize(
    ("params", "response"),
    [
        ({}, "invalid api key"),
        ({"api_key": "nope"}, "invalid api key"),
        ({"api_key": "k" * 40}, "invalid api key"),
        ({"key": "verifier"}, "api key not allowed: missing scope read"),
        ({"key": "writer"}, "api key not allowed: missing scope read"),
        ({"key": "admin", "action": "deleteuser"}, "Unknown action"),
        ({"key": "admin", "action": ""}, "Unknown action"),
        ({"key": "admin", "action": None}, "Unknown action"),
        ({"key": "admin", "action": "LISTUSERS"}, "Unknown action"),
    ],
)
def test_failures(running: Running, params: dict[str, str | None], response: str) -> None:
    query = {"action": "listusers", **params}
    if "key" in query:
        query["api_key"] = running.keys[str(query.pop("key"))]
    query = {k: v for k, v in query.items() if v is not None}
    result = running.t2().http.get("/api.php", params=query)
    assert result.status_code == 200
    assert result.json() == {"success": "false", "response": response}
