"""Docs change with the code (DESIGN habit 15): every setting and every route is documented."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route

from otpd.settings import SETTINGS, Settings, env_name
from otpd.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
PARAM = r"[^/\s`]+"
END = r"(?![\w/-])"


def test_every_setting_is_declared_once_and_documented() -> None:
    assert [s.name for s in SETTINGS] == list(Settings.__dataclass_fields__)
    for setting in SETTINGS:
        assert getattr(Settings(), setting.name) == setting.default, setting.name
    text = (ROOT / "docs" / "settings.md").read_text()
    for setting in SETTINGS:
        assert f"`{env_name(setting.name)}`" in text, setting.name


def test_every_route_is_documented() -> None:
    docs = "\n".join(p.read_text() for p in (ROOT / "docs").glob("*.md"))
    app = create_app(Settings())
    missing = []
    for route in app.routes:
        assert isinstance(route, Route)
        # a path parameter matches its placeholder or any example value in the docs
        literal_parts = re.split(r"\{[a-z_]+\}", route.path)
        pattern = PARAM.join(re.escape(part) for part in literal_parts) + END
        if not re.search(pattern, docs):
            missing.append(route.path)
    assert not missing, f"routes not in docs/: {sorted(set(missing))}"
