"""Self-service enrolment (issue #16): the one-time link an admin hands a user. No sign-in: the
ticket in the link is the authority, and nothing is shown once it is used or expired (a dead
link's page is render.error_page's)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.common import one_hop
from otpd.console import gate
from otpd.console.render import ConsoleEndpoint, form, page

__all__ = ["Enrol"]


class Enrol(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        ticket = request.path_params["ticket"]
        shown = await one_hop(request, gate.enrolling, gate.runtime_of(request), ticket)
        return page("enrol.html", admin=None, record=shown.record, key=shown.key, qr=shown.qr)

    async def post(self, request: Request) -> Response:
        ticket = request.path_params["ticket"]
        fields = await form(request)
        code = fields.get("code", "").strip()[:16]
        accepted = await one_hop(request, gate.confirm, gate.runtime_of(request), ticket, code)
        if not accepted:
            return page("enrol_retry.html", 400, admin=None, ticket=ticket)
        return page("enrol_done.html", admin=None)
