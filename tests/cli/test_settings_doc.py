"""docs/settings.md against the generated command line (issue #10): each row's flag column names
the flag some command really has, and its default is the declared one."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from otpd.cli import _parser
from otpd.cli_options import flag
from otpd.settings import SETTINGS, env_name

ROOT = Path(__file__).resolve().parents[2]


def _all_flags(parser: argparse.ArgumentParser) -> set[str]:
    found: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= _all_flags(sub)
        elif action.help != argparse.SUPPRESS:
            found.update(action.option_strings)
    return found


def _rows() -> dict[str, list[str]]:
    rows = {}
    for line in (ROOT / "docs" / "settings.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name = re.fullmatch(r"`([a-z_]+)`", cells[0])
        if name and len(cells) >= 5:
            rows[name.group(1)] = cells
    return rows


def test_settings_table_matches_the_generated_flags_and_defaults() -> None:
    flags, rows = _all_flags(_parser()), _rows()
    assert set(rows) == {s.name for s in SETTINGS}
    for setting in SETTINGS:
        _, variable, flag_cell, default_cell, _meaning = rows[setting.name][:5]
        assert variable == f"`{env_name(setting.name)}`", setting.name
        has_flag = flag(setting.name) in flags
        assert (flag_cell == f"`{flag(setting.name)}`") == has_flag, (setting.name, flag_cell)
        if setting.default is None or setting.default == ():
            assert default_cell in {"—", "-", ""}, (setting.name, default_cell)
        else:
            assert default_cell == f"`{setting.default}`", (setting.name, default_cell)
