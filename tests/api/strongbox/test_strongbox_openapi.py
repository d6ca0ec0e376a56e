"""The OpenAPI document is exactly the routes otpd serves, the docs page names every route,
and schemathesis finds no 5xx and no undocumented behaviour over the real server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import schemathesis

from otpd.api.strongbox.openapi import OPENAPI_PATH, openapi_document
from otpd.api.strongbox.routes import RESOURCES, routes
from tests.support.clients import Sb
from tests.support.deployment import Deployment as Env
from tests.support.strongbox import CONFIG, SAMPLE_YAML, assert_status, register_b32

DOCS = Path(__file__).parents[3] / "docs" / "api-strongbox.md"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def test_served_document_is_valid_openapi(env: Env) -> None:
    with env.server.client() as http:
        served = http.get(OPENAPI_PATH)
    assert_status(served, 200)
    assert served.json() == openapi_document("local")
    schema = schemathesis.openapi.from_dict(served.json())
    schema.validate()  # against the OpenAPI 3.1 meta-schema


def test_document_and_routes_match_both_ways() -> None:
    document = openapi_document()
    documented = {
        path: {method.upper() for method in item if method in HTTP_METHODS}
        for path, item in document["paths"].items()
    }
    served = {resource.path: set(resource.methods) for resource in RESOURCES}
    assert documented == served
    assert [route.path for route in routes()] == [resource.path for resource in RESOURCES]


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def test_every_operation_documents_sealed_and_the_errors_body() -> None:
    document = openapi_document()
    operation_ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(operation_ids) == len(set(operation_ids))
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        assert "503" in responses, (path, method)
        if operation.get("security") != []:
            assert "401" in responses, (path, method)
        for status, response in responses.items():
            if int(status) >= 400 and method != "head":
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Errors"}, (path, method, status)


def test_docs_page_names_every_route_scope_and_parameter() -> None:
    text = DOCS.read_text()
    for resource in RESOURCES:
        path = re.escape(resource.path).replace(re.escape("{name}"), "[^/ ]+")
        for method in resource.handlers:
            assert f"{method} {resource.path}" in text, f"{method} {resource.path}"
            verb = "" if method == "GET" else f"-X {method} [^\\n]*"
            example = rf"curl [^\n]*{verb}\$URL{path}(?:[\"? ]|$)"
            assert re.search(example, text, re.MULTILINE), f"no curl for {method} {resource.path}"
    for word in ("read", "write", "verify", "code", "reveal"):
        assert f"`{word}`" in text
    for parameter in ("validate", "fields", "keys", "count", "content", "site"):
        assert f"`{parameter}" in text
    for status in ("400", "401", "403", "404", "405", "409", "412", "413", "503"):
        assert f"| {status} |" in text


def _schemathesis(env: Env, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        env.url + OPENAPI_PATH,
        "--header",
        f"Authorization: Bearer {env.sb().token}",
        "--checks",
        "all",
        # A random If-Match (schema-valid) must give 412: "valid input accepted" cannot hold.
        "--exclude-checks",
        "positive_data_acceptance",
        "--max-examples",
        "12",
        "--seed",
        "4",
        "--request-timeout",
        "10",
        "--no-color",
        *args,
    ]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)


def test_schemathesis_finds_nothing(env: Env, tmp_path: Path) -> None:
    """Every operation, every phase, all checks but one: no 5xx, every status, header, content
    type and body as documented. Token refresh runs last and alone: a fuzzed
    `{"increment": "1s"}` would expire the token for everything after it."""
    sb = env.sb()
    sample = {"Content-Type": "application/yaml", **sb.auth}
    assert_status(sb.http.post(CONFIG, content=SAMPLE_YAML, headers=sample), 201)
    refresh = "/v1/state/strongbox/token/refresh"
    for args in (("--exclude-path", refresh), ("--include-path", refresh)):
        result = _schemathesis(env, tmp_path, *args)
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        assert re.search(r"\d+ generated", result.stdout)
    # Register every secret schemathesis made, for the session's no-secret-in-logs check.
    admin = Sb.login(env.url, "admin", env.keys["admin"])  # the fuzzed refresh may have
    for item in admin.get(CONFIG).json():  # shortened the first token's life
        if "passcode32" in item:
            register_b32(item["passcode32"])
    admin.close()
    assert "unhandled error" not in env.server.log()
