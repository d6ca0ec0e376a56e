"""RADIUS in the operations views (issue #13, docs/operations.md): a verification over RADIUS
is counted with api="radius" and lands in the audit trail with the NAS as caller and its
address as source; NAS changes made with `otpd nas ...` are audited without the secret."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.deployment import Deployment, create_nas, create_roles
from tests.support.radius import new_user, pap, radclient
from tests.support.server import run_cli


def _audit(data_dir: Path, *args: str) -> list[dict[str, Any]]:
    result = run_cli("audit", "--json", "--data-dir", str(data_dir), *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _radius_verifications(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", timeout=10).text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "otpd_verifications_total" and sample.labels["api"] == "radius":
                assert sample.labels["tenant"] == "acme"
                found[sample.labels["outcome"]] = sample.value
    return found


def test_radius_verification_in_metrics_and_audit_trail(radius: Deployment) -> None:
    user = new_user(radius)
    accepted = radclient(radius.radius_port, radius.nas["local"], pap(user, radius.sb().code(user)))
    assert "Received Access-Accept" in accepted.stdout, accepted.stdout + accepted.stderr
    assert _radius_verifications(radius.server.url).get("accepted", 0) >= 1
    deadline = time.monotonic() + 5  # the trail is written in batches (group commit)
    entries: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        entries = [e for e in _audit(radius.data_dir, "--action", "verify") if e["target"] == user]
        if entries:
            break
        time.sleep(0.1)
    assert len(entries) == 1, entries
    entry = entries[0]
    assert entry["caller"] == "radius:local" and entry["source"] == "127.0.0.1"
    assert entry["tenant"] == "acme" and entry["outcome"] == "accepted"
    assert entry["request_id"].startswith("radius-")
    # the `nas group` change on a live server's credential is audited too
    grouped = run_cli("nas", "group", "--tenant", "acme", "--credential", user,
                      "--label", "staff", "--data-dir", str(radius.data_dir))  # fmt: skip
    assert grouped.returncode == 0, grouped.stderr
    groups = [e for e in _audit(radius.data_dir, "--action", "nas group") if e["target"] == user]
    assert [(e["outcome"], e["caller"][:4]) for e in groups] == [("ok", "cli:")]


def test_nas_changes_are_audited_without_the_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    create_roles(data_dir, ("reader",))
    secret = create_nas(data_dir, "fw", "--address", "192.0.2.1")
    cli = ["--tenant", "acme", "--name", "fw", "--data-dir", str(data_dir)]
    updated = run_cli("nas", "update", *cli, "--new-secret", "--json")
    assert updated.returncode == 0, updated.stderr
    new_secret = json.loads(updated.stdout)["secret"]
    assert run_cli("nas", "delete", *cli).returncode == 0
    assert run_cli("nas", "delete", *cli).returncode == 1  # refused: nothing changed
    entries = [e for e in _audit(data_dir) if e["action"].startswith("nas ")]
    assert [(e["action"], e["outcome"], e["tenant"], e["target"]) for e in entries] == [
        ("nas create", "ok", "acme", "fw"),
        ("nas update", "ok new-secret", "acme", "fw"),
        ("nas delete", "ok", "acme", "fw"),
    ]
    assert all(e["caller"].startswith("cli:") and e["source"] == "local" for e in entries)
    text = run_cli("audit", "--json", "--data-dir", str(data_dir)).stdout
    assert secret not in text and new_secret not in text
