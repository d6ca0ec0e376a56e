"""The command line's flags, generated from the settings declarations (docs/settings.md).

A command names the settings it takes; the flag (`--data-dir`), its help (with the default
and the OTPD_* variable) and the way back to `Settings` all come from `otpd.settings`.
Every error ends as one line on stderr: exit 2 for usage, 1 for anything else.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import NoReturn

from otpd.core.errors import ConfigError, OtpdError
from otpd.settings import SETTINGS, Setting, Settings, env_name, load_settings, mask_url

__all__ = [
    "CONFIG",
    "Parser",
    "Usage",
    "add_settings",
    "flag",
    "run_reporting",
    "settings_from",
    "version",
]

CONFIG = "config"  # not a setting: it names where settings come from
_BY_NAME = {s.name: s for s in SETTINGS}
EPILOG = (
    "Every option also reads its OTPD_* environment variable; a YAML file (--config or "
    "OTPD_CONFIG) may hold any setting. All settings: docs/settings.md. "
    "Operations (init, unseal, backup): docs/operations.md."
)


class Usage(OtpdError):
    """A usage error found after parsing: exit status 2, as argparse's own."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"otpd: error: {message} (see otpd --help)\n")


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def version() -> str:
    try:
        return metadata.version("otpd")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _shown_default(setting: Setting) -> str:
    if setting.default is None or setting.default == ():
        return "unset"
    return str(setting.default)


def option_help(setting: Setting) -> str:
    text = f"{setting.help} ({env_name(setting.name)}; default: {_shown_default(setting)})"
    return text.replace("%", "%%")  # argparse formats help with %


def _checked(setting: Setting) -> Callable[[str], str]:
    """Checks a flag's value while parsing (a bad one is a usage error, exit 2); the text
    itself goes on to load_settings, which parses every source the same way."""

    def check(text: str) -> str:
        try:
            setting.parse(text)
        except (ValueError, TypeError) as error:
            shown = "" if setting.secret else f" {text[:80]!r}"
            raise argparse.ArgumentTypeError(f"bad value{shown}: {error}") from None
        return text

    check.__name__ = setting.name
    return check


def add_settings(parser: argparse.ArgumentParser, *names: str) -> None:
    """Adds one flag per named setting; an unknown name is a programming error (KeyError)."""
    for name in names:
        if name == CONFIG:
            parser.add_argument(
                "--config",
                dest=CONFIG,
                default=None,
                metavar="FILE",
                help="YAML file of settings (OTPD_CONFIG; default: none)",
            )
            continue
        setting = _BY_NAME[name]
        parser.add_argument(
            flag(name),
            dest=name,
            default=None,
            metavar=name.upper(),
            type=_checked(setting),
            help=option_help(setting),
        )


def require_data_dir(data_dir: Path) -> None:
    """Admin commands never create a data directory: run from the wrong place, they would
    make a second installation with a new seal key (docs/operations.md)."""
    where = data_dir.absolute()
    if not data_dir.exists():
        raise ConfigError(
            f"no data directory at {where} (give --data-dir or OTPD_DATA_DIR; "
            "only `otpd init` and `otpd serve` create one)"
        )
    if not data_dir.is_dir():
        raise ConfigError(f"data directory {where} is not a directory")


def settings_from(args: argparse.Namespace, *, existing_data_dir: bool = True) -> Settings:
    flags = {s.name: getattr(args, s.name, None) for s in SETTINGS}
    config = getattr(args, CONFIG, None)
    settings = load_settings(flags, config_file=Path(config) if config else None)
    if existing_data_dir:
        require_data_dir(settings.data_dir)
    return settings


def _os_error(error: OSError) -> str:
    reason = error.strerror or type(error).__name__
    where = f": {error.filename}" if error.filename else ""
    return f"{reason}{where}"


def run_reporting(command: Callable[[], int]) -> int:
    """Runs a command; whatever fails becomes one line on stderr, never a traceback."""
    try:
        return command()
    except Usage as error:
        return _fail(str(error), 2)
    except OtpdError as error:
        return _fail(str(error), 1)
    except OSError as error:  # permission denied, no space, not a directory, ...
        return _fail(_os_error(error), 1)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        first = (str(error).splitlines() or [""])[0][:200]
        return _fail(f"{type(error).__name__}: {mask_url(first)}", 1)


def _fail(message: str, status: int) -> int:
    print(f"otpd: error: {' '.join(message.split())}", file=sys.stderr)
    return status
