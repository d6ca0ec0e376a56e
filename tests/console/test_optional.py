"""The console is an optional extra (issue #16): without jinja2 the server runs, without /ui/."""

from __future__ import annotations

import logging
import sys

import pytest


def test_console_routes_are_skipped_without_jinja2(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)  # import jinja2 now raises ImportError
    for name in [m for m in sys.modules if m.startswith("otpd.console.")]:
        monkeypatch.delitem(sys.modules, name)
    from otpd import console

    with caplog.at_level(logging.INFO, logger="otpd.console"):
        assert console.routes() == []
    assert "admin console not served" in caplog.text


def test_console_routes_are_served_with_the_extra() -> None:
    from otpd import console

    for _ in range(2):  # every app built in one process gets them (the tests build many)
        paths = [getattr(route, "path", "") for route in console.routes()]
        assert paths == ["/ui"]
