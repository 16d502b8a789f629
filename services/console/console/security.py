"""Security headers on every response: a strict Content-Security-Policy with a fresh style nonce per response
(put on `request.state.csp_nonce` for index.html), nosniff, same-origin referrers, no framing.
Cross-site request refusal (CSRF) is decided in domain.csrf_refusal and applied by session.SessionMiddleware
(it needs the session); sign-in routes check the Origin themselves (`require_same_origin`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telesales_runtime.http import coded_problem

from . import domain


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, form_targets: Iterable[str] = ()) -> None:
        self.app = app
        self.form_targets = tuple(form_targets)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = domain.random_token(18)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["csp_nonce"] = nonce
        policy = domain.content_security_policy(nonce, form_targets=self.form_targets)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Security-Policy"] = policy  # replaces a service's own (proxied answers)
                for name, value in domain.SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def require_same_origin(request: Request) -> None:
    """Sign-in routes (login CSRF): a browser's Origin, when sent, must be the console's own."""
    origin = request.headers.get("origin")
    if not domain.origin_allowed(origin, request.app.state.settings.public_url):
        raise coded_problem(403, "csrf", f"Origin {origin!r} is not the console's.")
