"""Helpers shared by the adapters: the runtime accessor, the one worker hop, the bearer and
media-type readers, the Strongbox-style error body and the JSON object rule.

Every request goes the same way (docs/design.md#request-flow):

  1. on the event loop: cheap reads of the path, query and headers, and the raw body bytes
     (already capped by the middleware);
  2. `one_hop`: ONE worker-thread call that authenticates (checking the scope), parses the
     body and asks the service -- the store may fsync, and parsing a body at the cap is
     milliseconds of CPU the event loop must not wait on (docs/requirements.md#safe-parsers);
  3. back on the event loop: render. A domain error raised in step 2 reaches the app's one
     exception handler, which renders it with the table of the API that owns the path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar, NoReturn, ParamSpec, Protocol, TypeVar

from starlette.datastructures import Headers
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from otpd.api import hop
from otpd.core.access_service import AccessService
from otpd.core.bulk import BulkService
from otpd.core.credential_service import CredentialService
from otpd.core.enrolment_service import EnrolmentService
from otpd.core.errors import InvalidInput
from otpd.core.seal_service import SealService

__all__ = [
    "ApiRuntime",
    "Endpoint",
    "ServiceRuntime",
    "bearer_token",
    "errors_response",
    "media_type",
    "media_type_of",
    "no_duplicate_keys",
    "one_hop",
    "parse_json_object",
    "runtime_of",
]

P = ParamSpec("P")
T = TypeVar("T")

_HOPPED = "otpd.hopped"  # ASGI scope key: this request has made its worker hop


class ServiceRuntime(Protocol):
    """The services every door may reach at request time (docs/design.md#services).
    Configuration is given to each adapter when its routes are built, never read from here."""

    @property
    def access(self) -> AccessService: ...

    @property
    def credentials(self) -> CredentialService: ...

    @property
    def enrolment(self) -> EnrolmentService: ...

    @property
    def sealing(self) -> SealService: ...


class ApiRuntime(ServiceRuntime, Protocol):
    """What an API adapter may reach: the services, import and export included."""

    @property
    def bulk(self) -> BulkService: ...


def runtime_of(request: Request) -> ApiRuntime:
    """The one place an adapter reaches the runtime the app's lifespan built."""
    runtime: ApiRuntime = request.app.state.runtime
    return runtime


async def one_hop(request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run `fn` in a worker thread: the request's one and only hop. A second hop for the same
    request is a bug (each costs a thread hand-off and a wake-up of the loop), so it raises."""
    if request.scope.get(_HOPPED):
        raise RuntimeError("a request makes exactly one worker hop")
    request.scope[_HOPPED] = True
    return await hop.run_in_worker(fn, *args, **kwargs)


async def _never_receive() -> Message:
    raise RuntimeError("only a class's allowed methods are worked out with this")


async def _never_send(message: Message) -> NoReturn:
    raise RuntimeError("only a class's allowed methods are worked out with this")


class Endpoint(HTTPEndpoint):
    """Starlette's HTTPEndpoint with its allowed methods worked out once per class, when the
    class is made, instead of on every request (Starlette's __init__ probes eight method
    names each time; issue #12, docs/performance.md). `allowed`, when set, replaces the
    list (what answers rather than 405). The list itself is Starlette's own, from a probe."""

    allowed: ClassVar[tuple[str, ...] | None] = None
    _class_methods: ClassVar[list[str]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        probe = object.__new__(cls)
        HTTPEndpoint.__init__(probe, {"type": "http"}, _never_receive, _never_send)
        cls._class_methods = probe._allowed_methods if cls.allowed is None else list(cls.allowed)

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.scope = scope
        self.receive = receive
        self.send = send
        self._allowed_methods = self._class_methods


def errors_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Avassa's error body; `error-info` is always present (the Rust client needs it)."""
    body = {"errors": [{"error-message": message, "error-info": {}}]}
    return JSONResponse(body, status_code=status, headers=headers)


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # One documented rule for duplicate JSON keys in every adapter
    # (docs/requirements.md#duplicate-parameters): refuse them.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput("body", "repeats a key")
        result[key] = value
    return result


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """A JSON object from a request body, by the one rule of every adapter (no duplicate keys)."""
    try:
        value = json.loads(raw, object_pairs_hook=no_duplicate_keys) if raw else None
    except (ValueError, RecursionError):
        raise InvalidInput("body", "must be a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidInput("body", "must be a JSON object")
    return value


def bearer_token(headers: Headers) -> str | None:
    """The one bearer token of the request, or None. Two Authorization headers are refused
    rather than guessing which one counts (no partial authentication: RFC 6750 §2.1 names
    one credential per request)."""
    values = headers.getlist("authorization")
    scheme, _, token = values[0].partition(" ") if len(values) == 1 else ("", "", "")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def media_type(headers: Headers) -> str:
    """The request's media type (see media_type_of)."""
    return media_type_of(headers.get("content-type"))


def media_type_of(content_type: str | None) -> str:
    """A Content-Type's media type, lower-case, without parameters ("" when absent): RFC 9110
    §8.3.1 makes type and subtype case-insensitive; `; charset=...` is a parameter."""
    return (content_type or "").partition(";")[0].strip().lower()
