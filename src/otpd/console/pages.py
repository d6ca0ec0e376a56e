"""The admin pages (issue #16): each an HTTPEndpoint that parses on the loop, makes one worker
hop (api.common.one_hop) through gate.py -- the session check and the action together -- then
renders. Errors go to the app's one handler, which renders /ui/ paths with render.error_page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from otpd.api.common import one_hop
from otpd.console import auth, charts, gate
from otpd.console.render import ConsoleEndpoint, as_admin, cookie_of, form, page, redirect
from otpd.core.console import ABSOLUTE_TIMEOUT_US
from otpd.core.model import Scope

__all__ = ["Clients", "CredentialDetail", "Credentials", "Login", "Logout", "Overview", "Seal"]

_CLIENT_SCOPES = [s.value for s in Scope if s is not Scope.SEAL]


def _cookie_headers(request: Request, cookie: str, max_age: int) -> dict[str, str]:
    secure = "; Secure" if request.url.scheme == "https" else ""
    value = f"{auth.COOKIE}={cookie}; Path=/ui/; HttpOnly; SameSite=Strict; Max-Age={max_age}"
    return {"Set-Cookie": value + secure}


class Login(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        return page("login.html", admin=None)

    async def post(self, request: Request) -> Response:
        fields = await form(request)
        name, password, code = (fields.get(k, "")[:256] for k in ("name", "password", "code"))
        runtime = gate.runtime_of(request)
        cookie = await one_hop(request, gate.sign_in, runtime, name, password, code)
        if cookie is None:
            message = "Wrong name, password or code (or too many attempts: wait and retry)."
            return page("login.html", 401, admin=None, message=message, name=name)
        response = redirect("/ui/")
        response.headers.update(_cookie_headers(request, cookie, ABSOLUTE_TIMEOUT_US // 1_000_000))
        return response


class Logout(ConsoleEndpoint):
    async def post(self, request: Request) -> Response:
        fields = await form(request)
        runtime, cookie = gate.runtime_of(request), cookie_of(request)
        await as_admin(request, lambda admin: gate.sign_out(runtime, cookie), fields)
        response = redirect("/ui/login")
        response.headers.update(_cookie_headers(request, "", 0))
        return response


class Overview(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        runtime = gate.runtime_of(request)
        admin, (status, rows, data) = await as_admin(
            request,
            lambda admin: (
                gate.seal_status(runtime),
                gate.tenants(runtime, admin),
                gate.charts(runtime, admin),
            ),
        )
        shown: dict[str, object] = {
            "chart": charts.bars([(t.id, n) for t, n in rows], "Credentials per tenant"),
            "per_minute": charts.stacked_columns(
                data.per_minute, "Verifications per minute by outcome", "minutes"
            ),
            "throttled": charts.bars(data.throttled, "Users throttled in the last 15 minutes"),
            "drift": charts.columns(data.drift, "Matched step offsets of accepted codes")
            if data.drift is not None
            else None,
        }
        return page("overview.html", 200, admin=admin, status=status, rows=rows, **shown)


class Credentials(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        prefix = request.query_params.get("q", "")[:128]
        after = request.query_params.get("after", "")[:128]
        runtime = gate.runtime_of(request)
        admin, found = await as_admin(
            request, lambda admin: gate.search(runtime, admin, tenant, prefix, after)
        )
        return page(
            "credentials.html", admin=admin, tenant=tenant, q=prefix, after=after, found=found
        )

    async def post(self, request: Request) -> Response:
        """Issue a one-time enrolment link for a new (or, re-enrol, an existing) user."""
        tenant = request.path_params["tenant"]
        fields = await form(request)
        name = fields.get("name", "")[:128]
        runtime = gate.runtime_of(request)
        admin, ticket = await as_admin(
            request, lambda admin: gate.issue_link(runtime, admin, tenant, name), fields
        )
        link = f"{request.url.scheme}://{request.url.netloc}/ui/enrol/{ticket}"
        return page("link.html", admin=admin, tenant=tenant, name=name, link=link)


class CredentialDetail(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        tenant, name = request.path_params["tenant"], request.path_params["name"]
        runtime = gate.runtime_of(request)
        admin, record = await as_admin(
            request, lambda admin: gate.credential(runtime, admin, tenant, name)
        )
        return page("credential.html", admin=admin, tenant=tenant, record=record)

    async def post(self, request: Request) -> Response:
        tenant, name = request.path_params["tenant"], request.path_params["name"]
        fields = await form(request)
        action = fields.get("action", "")
        runtime = gate.runtime_of(request)
        admin, done = await as_admin(
            request,
            lambda admin: gate.act_on_credential(runtime, admin, tenant, name, action),
            fields,
        )
        return page("done.html", admin=admin, tenant=tenant, message=done)


class Clients(ConsoleEndpoint):
    async def get(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        runtime = gate.runtime_of(request)
        admin, rows = await as_admin(request, lambda admin: gate.clients(runtime, admin, tenant))
        return page("clients.html", admin=admin, tenant=tenant, rows=rows, scopes=_CLIENT_SCOPES)

    async def post(self, request: Request) -> Response:
        tenant = request.path_params["tenant"]
        body = await request.body()
        fields = await form(request)
        scopes = [s for s in _CLIENT_SCOPES if f"scope={s}".encode() in body.split(b"&")]
        name = fields.get("name", "")[:64]
        runtime = gate.runtime_of(request)
        if fields.get("action") == "revoke":
            admin, done = await as_admin(
                request, lambda admin: gate.revoke_client(runtime, admin, tenant, name), fields
            )
            return page("done.html", admin=admin, tenant=tenant, message=done)
        if fields.get("action") == "rotate":
            grace = fields.get("grace", "1h")[:8]
            admin, (key, old) = await as_admin(
                request,
                lambda admin: gate.rotate_client(runtime, admin, tenant, name, grace),
                fields,
            )
            return page(
                "client_key.html", admin=admin, tenant=tenant, name=name, key=key, rotated=old
            )
        admin, key = await as_admin(
            request,
            lambda admin: gate.create_client(runtime, admin, tenant, name, scopes),
            fields,
        )
        return page("client_key.html", admin=admin, tenant=tenant, name=name, key=key)


class Seal(ConsoleEndpoint):
    """Status and unsealing need no sign-in (a sealed otpd cannot check an admin's code; the
    shares are the authority). Sealing needs an admin of every tenant."""

    async def get(self, request: Request) -> Response:
        runtime = gate.runtime_of(request)
        admin, status = await one_hop(request, gate.seal_view, runtime, cookie_of(request))
        return page("seal.html", admin=admin, status=status)

    async def post(self, request: Request) -> Response:
        fields = await form(request)
        runtime = gate.runtime_of(request)
        if fields.get("action") == "seal":
            admin, status = await as_admin(request, lambda admin: gate.seal(runtime, admin), fields)
            return page("seal.html", admin=admin, status=status, message="Sealed.")
        if fields.get("action") == "reset":
            nonce = fields.get("nonce", "").strip()[:128]
            status = await one_hop(request, gate.reset_unseal, runtime, nonce)
            return page("seal.html", admin=None, status=status, message="Unseal progress reset.")
        share = fields.get("share", "").strip()[:512]
        status = await one_hop(request, gate.unseal, runtime, share)
        message = "Unsealed." if not status.sealed else "Share accepted."
        # The ceremony's nonce goes only to whoever gave a share (as the API's unseal answer),
        # prefilled in the reset form of that answer; the status page never shows it.
        return page("seal.html", admin=None, status=status, message=message, nonce=status.nonce)
