"""Metrics directories of killed instances (issue #13, docs/operations.md#metrics): each
`otpd serve` keeps its workers' metric files in a directory of its own, removed on a clean
stop; one killed with -9 cannot remove it, so the next start of the same data directory does,
and leaves a running instance's alone."""

from __future__ import annotations

from pathlib import Path

from tests.support.deployment import create_roles
from tests.support.server import Server


def _metrics_dirs(temp: Path) -> set[str]:
    return {path.name for path in temp.glob("otpd-metrics-*") if path.is_dir()}


def test_start_removes_a_killed_instances_metrics_dir_not_a_live_ones(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    create_roles(data_dir, ("reader",))
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {"TMPDIR": str(temp)}
    # another deployment's directory in the same temporary directory is never touched
    foreign = temp / "otpd-metrics-0123456789abcdef-00ff"
    foreign.mkdir()
    with Server(data_dir, env=env, name="metrics-live") as live:
        (live_dir,) = _metrics_dirs(temp) - {foreign.name}
        killed = Server(data_dir, env=env, name="metrics-killed").start()
        (killed_dir,) = _metrics_dirs(temp) - {foreign.name, live_dir}
        killed.kill()
        assert killed_dir in _metrics_dirs(temp)  # left behind by kill -9
        with Server(data_dir, env=env, name="metrics-next"):
            after = _metrics_dirs(temp)
            assert killed_dir not in after
            assert {live_dir, foreign.name} <= after and len(after) == 3
            assert live.client().get("/metrics").status_code == 200
    assert _metrics_dirs(temp) == {foreign.name}  # clean stops remove their own
