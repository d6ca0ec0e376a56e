"""The Strongbox TOTP API's routes: one table of resources, each a path and its handlers.

Spec: https://avassa-api.redoc.ly/tag/TOTP; choices: docs/api-strongbox.md and
docs/requirements.md#model. Each resource is one Starlette HTTPEndpoint whose methods are its
handlers, so OPTIONS and a 405 both list exactly the methods of that path, in the table's order,
and a 405 has the Strongbox errors body. HEAD runs GET with the same authentication; the server
drops the body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from otpd.api.common import Endpoint, errors_response
from otpd.api.strongbox.context import Config, Handler, reply
from otpd.api.strongbox.openapi import CONFIG, OPENAPI_PATH, STATE, openapi_document
from otpd.api.strongbox.operations import get_code, get_qr_code, verify_code
from otpd.api.strongbox.reads import get_config, get_state, list_config, list_state
from otpd.api.strongbox.tokens import login, refresh
from otpd.api.strongbox.writes import create, delete, patch, put

__all__ = ["RESOURCES", "Resource", "StrongboxEndpoint", "routes"]


class StrongboxEndpoint(Endpoint):
    """A resource's endpoint; `routes()` makes one subclass per resource with its handlers
    as methods and its configuration."""

    config: ClassVar[Config] = Config()
    allow: ClassVar[str] = "OPTIONS"

    async def options(self, request: Request) -> Response:
        return Response(status_code=204, headers={"Allow": self.allow})

    async def method_not_allowed(self, request: Request) -> Response:
        return errors_response(405, "method not allowed", {"Allow": self.allow})


def _method(handler: Handler) -> Any:
    async def method(self: StrongboxEndpoint, request: Request) -> Response:
        return await handler(request, self.config)

    return method


@dataclass(frozen=True)
class Resource:
    path: str
    handlers: Mapping[str, Handler]

    @property
    def methods(self) -> tuple[str, ...]:
        """What `Allow` lists: the handlers, HEAD wherever GET is, and OPTIONS everywhere."""
        head = ("HEAD",) if "GET" in self.handlers else ()
        return (*self.handlers, *head, "OPTIONS")

    def route(self, config: Config) -> Route:
        attributes: dict[str, Any] = {m.lower(): _method(h) for m, h in self.handlers.items()}
        attributes |= {"config": config, "allow": ", ".join(self.methods)}
        endpoint = type("StrongboxResource", (StrongboxEndpoint,), attributes)
        return Route(self.path, endpoint)


async def openapi(request: Request, config: Config) -> Response:
    """The OpenAPI 3.1 document of exactly this API (no authentication: it holds no data)."""
    return reply(request, openapi_document(config.site))


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


def routes(*, site: str = "local") -> list[BaseRoute]:
    """The Strongbox routes for one node answering for `site` (docs/api-strongbox.md)."""
    config = Config(site=site)
    return [resource.route(config) for resource in RESOURCES]
