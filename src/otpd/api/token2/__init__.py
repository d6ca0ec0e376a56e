"""The Token2 TOTPRadius Web API, issue #5 (not built yet: only its error format)."""

from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import Scope

__all__ = ["PREFIXES", "ROUTES", "render_error"]

PREFIXES = ("/createuser", "/validate", "/api.php", "/qr/")
ROUTES: list[BaseRoute] = []


def render_error(status: int, message: str, scope: Scope) -> Response:
    return JSONResponse({"response": message, "success": "false"}, status_code=status)
