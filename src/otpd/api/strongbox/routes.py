"""The Strongbox TOTP API's routes: one table of resources, each a path and its handlers.

Spec: shared/specs/strongbox-totp-api.txt; choices: NOTES.md §2, §5, §7; CLIENTS.md §3.7.
Each resource is one route that dispatches on the method itself, so OPTIONS and a 405 both
list exactly the methods of that path (Starlette's per-method routes would each answer 405
with only their own method in `Allow`), and a 405 has the Strongbox errors body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from otpd.api.common import errors_response
from otpd.api.strongbox.context import Handler, reply
from otpd.api.strongbox.openapi import CONFIG, OPENAPI_PATH, STATE, openapi_document
from otpd.api.strongbox.operations import get_code, get_qr_code, verify_code
from otpd.api.strongbox.reads import get_config, get_state, list_config, list_state
from otpd.api.strongbox.tokens import login, refresh
from otpd.api.strongbox.writes import create, delete, patch, put

__all__ = ["RESOURCES", "ROUTES", "Resource"]


@dataclass(frozen=True)
class Resource:
    path: str
    handlers: Mapping[str, Handler]

    @property
    def methods(self) -> tuple[str, ...]:
        """What `Allow` lists: the handlers, HEAD wherever GET is, and OPTIONS everywhere."""
        head = ("HEAD",) if "GET" in self.handlers else ()
        return (*self.handlers, *head, "OPTIONS")

    def route(self) -> Route:
        return Route(self.path, _Dispatch(self))


class _Dispatch:
    """An ASGI app, so Starlette routes every method of the path here (not only GET)."""

    def __init__(self, resource: Resource) -> None:
        self.handlers = dict(resource.handlers)
        self.allow = ", ".join(resource.methods)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.respond(Request(scope, receive))
        await response(scope, receive, send)

    async def respond(self, request: Request) -> Response:
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": self.allow})
        # HEAD runs GET with the same authentication; the server drops the body (T69).
        handler = self.handlers.get("GET" if request.method == "HEAD" else request.method)
        if handler is None:
            return errors_response(405, "method not allowed", {"Allow": self.allow})
        return await handler(request)


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of exactly this API (no authentication: it holds no data)."""
    return reply(request, openapi_document(request.app.state.runtime.settings.site))


RESOURCES: tuple[Resource, ...] = (
    Resource("/v1/login", {"POST": login}),
    Resource("/v1/state/strongbox/token/refresh", {"POST": refresh}),
    Resource(CONFIG, {"GET": list_config, "POST": create}),
    Resource(CONFIG + "/{name}", {"GET": get_config, "PUT": put, "PATCH": patch, "DELETE": delete}),
    Resource(STATE, {"GET": list_state}),
    Resource(STATE + "/{name}", {"GET": get_state}),
    Resource(STATE + "/{name}/get-code", {"POST": get_code}),
    Resource(STATE + "/{name}/get-qr-code", {"POST": get_qr_code}),
    Resource(STATE + "/{name}/verify-code", {"POST": verify_code}),
    Resource(OPENAPI_PATH, {"GET": openapi}),
)

ROUTES = [resource.route() for resource in RESOURCES]
