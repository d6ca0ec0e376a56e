"""Self-service enrolment (issue #16): the one-time link an admin hands a user. No sign-in: the
ticket in the link is the authority, and nothing is shown once it is used or expired."""

from __future__ import annotations

import segno
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from otpd.console import gate
from otpd.console.render import ConsoleEndpoint, error, form, page

__all__ = ["Enrol"]

_GONE = "This enrolment link is not valid: it was used, it expired, or it never existed."


class Enrol(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        ticket = request.path_params["ticket"]
        runtime = gate.runtime_of(request)
        try:
            shown = await run_in_threadpool(gate.enrolling, runtime, ticket)
        except gate.NotFound:
            return error(404, _GONE)
        qr = segno.make(shown.uri, error="m").png_data_uri(scale=6, border=4)
        return page("enrol.html", admin=None, record=shown.record, key=shown.key, qr=qr)

    async def post(self, request: Request) -> Response:
        ticket = request.path_params["ticket"]
        fields = await form(request)
        code = fields.get("code", "").strip()[:16]
        runtime = gate.runtime_of(request)
        try:
            accepted = await run_in_threadpool(gate.confirm, runtime, ticket, code)
        except gate.NotFound:
            return error(404, _GONE)
        if not accepted:
            return page("enrol_retry.html", 400, admin=None, ticket=ticket)
        return page("enrol_done.html", admin=None)
