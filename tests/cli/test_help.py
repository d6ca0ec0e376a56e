"""Help on every option of every command, generated from the settings (issues #10, #13)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from importlib import metadata

from otpd.cli import _parser
from otpd.settings import SETTINGS, env_name
from tests.support.server import run_cli


def _walk(parser: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.Action]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                assert helps.get(name), f"command {path} {name} has no help"
                yield from _walk(sub, f"{path} {name}")
        else:
            yield path, action


def test_every_option_of_every_command_has_help() -> None:
    actions = list(_walk(_parser(), "otpd"))
    assert len(actions) > 100  # the walk reached every subcommand
    missing = [f"{path} {a.dest}" for path, a in actions if not a.help]
    assert not missing, missing


def test_setting_flags_show_their_variable_and_default() -> None:
    by_flag = {}
    for _path, action in _walk(_parser(), "otpd"):
        for option in action.option_strings:
            by_flag[option] = action
    covered = 0
    for setting in SETTINGS:
        action = by_flag.get("--" + setting.name.replace("_", "-"))
        if action is None or action.help == argparse.SUPPRESS:
            continue  # a setting only the YAML file or the environment gives
        covered += 1
        assert action.help is not None
        assert env_name(setting.name) in action.help and "default:" in action.help
    assert covered >= 10


def test_top_level_help_points_at_the_settings_page() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    assert "docs/settings.md" in result.stdout
    serve = " ".join(run_cli("serve", "--help").stdout.split())
    assert "--port PORT port to listen on; 0 picks a free port (OTPD_PORT; default: 8080)" in serve


def test_version_comes_from_the_installed_package() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"otpd {metadata.version('otpd')}\n")
