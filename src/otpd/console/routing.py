"""The console's route table, mounted under /ui/ by web/app.py (issue #16)."""

from __future__ import annotations

from importlib import resources

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from otpd.console.enrol import Enrol
from otpd.console.pages import (
    Clients,
    CredentialDetail,
    Credentials,
    Login,
    Logout,
    Overview,
    Seal,
)
from otpd.console.pages_audit import Audit, Tenants

__all__ = ["ROUTES"]

_STATIC = str(resources.files("otpd.console") / "static")

ROUTES: list[BaseRoute] = [
    Mount(
        "/ui",
        routes=[
            Route("/", Overview),
            Route("/login", Login),
            Route("/logout", Logout),
            Route("/seal", Seal),
            Route("/audit", Audit),
            Route("/tenants", Tenants),
            Route("/t/{tenant}/credentials", Credentials),
            Route("/t/{tenant}/credentials/{name}", CredentialDetail),
            Route("/t/{tenant}/clients", Clients),
            Route("/enrol/{ticket}", Enrol),
            Mount("/static", StaticFiles(directory=_STATIC), name="static"),
        ],
    )
]
