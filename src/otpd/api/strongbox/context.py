"""What every Strongbox handler needs: its configuration, the bearer, query flags, the body,
replies and ETag preconditions.

Handlers stay flat (docs/design.md#request-flow): read the cheap parts on the event loop (the
bearer, the query, the raw body, the precondition headers), make the request's one worker hop
(api.common.one_hop) to authenticate with the scope, parse and act, render on the loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.common import media_type
from otpd.api.strongbox.errors import PreconditionFailed
from otpd.api.strongbox.parse import Body, parse_body, wants_yaml
from otpd.api.strongbox.render import render
from otpd.core.errors import InvalidInput, NotFound

__all__ = [
    "Conditions",
    "Config",
    "Handler",
    "RawBody",
    "check_site",
    "flag",
    "path_name",
    "reply",
]


@dataclass(frozen=True)
class Config:
    """The Strongbox adapter's configuration, given when its routes are built (web.app)."""

    site: str = "local"


Handler = Callable[[Request, Config], Awaitable[Response]]


@dataclass(frozen=True)
class RawBody:
    """A request body as it arrived (read on the loop, capped by the middleware); parsed in
    the worker thread (docs/requirements.md#safe-parsers)."""

    raw: bytes
    media: str

    @classmethod
    async def read(cls, request: Request) -> RawBody:
        return cls(await request.body(), media_type(request.headers))

    def parse(self, *, required: bool = True) -> Body:
        return parse_body(self.raw, self.media, required)

    def __repr__(self) -> str:  # a body may hold a secret (passcode32)
        return f"RawBody(bytes={len(self.raw)}, media={self.media!r})"


def flag(query: Mapping[str, str], name: str) -> bool:
    """`validate`, `keys`, `count`: the spec's only value is "true"; "false" is accepted."""
    value = query.get(name)
    if value not in (None, "true", "false"):
        raise InvalidInput(name, "must be true or false")
    return value == "true"


def check_site(query: Mapping[str, str], site: str) -> None:
    """A single node answers for its configured site only (docs/api-strongbox.md)."""
    given = query.get("site")
    if given is not None and given != site:
        raise NotFound("no such site")


def path_name(request: Request) -> str:
    name: str = request.path_params["name"]
    return name


def reply(
    request: Request, body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return render(body, yaml_out=wants_yaml(request), status=status, headers=headers)


def _matches(header: str, current: str, *, weak: bool) -> bool:
    tags = {tag.strip() for tag in header.split(",")}
    if weak:  # If-None-Match compares weakly (RFC 9110 §13.1.2): W/"x" matches "x"
        tags = {tag.removeprefix("W/") for tag in tags}
    return "*" in tags or current in tags


@dataclass(frozen=True)
class Conditions:
    """If-Match and If-None-Match, read on the loop and checked in the worker against the
    ETag of what the store holds (RFC 9110 §13.2.2)."""

    if_match: str | None
    if_none_match: str | None

    @classmethod
    def of(cls, request: Request) -> Conditions:
        return cls(request.headers.get("if-match"), request.headers.get("if-none-match"))

    @property
    def conditional(self) -> bool:
        """A write must still find the version it was checked against (If-Match): the check
        and the write are then one compare-and-set in the store."""
        return self.if_match is not None

    def check(self, current: str | None) -> None:
        """PUT/PATCH/DELETE: against the current ETag (None: no such resource) -> 412."""
        if self.if_match is not None and (
            current is None or not _matches(self.if_match, current, weak=False)
        ):
            raise PreconditionFailed("if-match")
        if (
            self.if_none_match is not None
            and current is not None
            and _matches(self.if_none_match, current, weak=True)
        ):
            raise PreconditionFailed("if-none-match")

    def not_modified(self, current: str) -> bool:
        """GET: a failing If-Match is 412; a matching If-None-Match is True (answer 304)."""
        if self.if_match is not None and not _matches(self.if_match, current, weak=False):
            raise PreconditionFailed("if-match")
        return self.if_none_match is not None and _matches(self.if_none_match, current, weak=True)
