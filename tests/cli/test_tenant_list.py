"""`otpd tenant list [--json]` (issue #13)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.deployment import create_roles
from tests.support.server import run_cli


def test_tenant_list_shows_every_tenant_with_its_credential_count(data_dir: Path) -> None:
    create_roles(data_dir, ("reader",))  # tenant acme
    assert run_cli("tenant", "create", "globex", "--data-dir", str(data_dir)).returncode == 0
    plain = run_cli("tenant", "list", "--data-dir", str(data_dir))
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    assert "acme\tcredentials=0\tphenixid-auth=basic" in lines
    assert "globex\tcredentials=0\tphenixid-auth=basic" in lines
    listed = run_cli("tenant", "list", "--json", "--data-dir", str(data_dir))
    rows = {row["tenant"]: row for row in json.loads(listed.stdout)}
    assert {"acme", "globex"} <= set(rows)
    assert rows["globex"] == {
        "tenant": "globex",
        "phenixid-auth": "basic",
        "allowed-operations": rows["globex"]["allowed-operations"],
        "client-cert-subjects": [],
        "issuer": None,
        "credentials": 0,
    }


def test_tenant_list_on_an_empty_data_directory_lists_nothing_but_system(data_dir: Path) -> None:
    listed = run_cli("tenant", "list", "--json", "--data-dir", str(data_dir))
    assert listed.returncode == 0, listed.stderr
    assert {row["tenant"] for row in json.loads(listed.stdout)} <= {"system"}
