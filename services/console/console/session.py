"""Browser sessions: made at sign-in, found from the `ts_session` cookie on every request, ended by expiry,
idleness or sign-out.

`SessionMiddleware` puts the session's caller on `request.state.principal`, where
telesales_runtime.auth.authenticate finds it: the ACCESS machinery works the same for a browser (cookie)
and for a desktop client (its own bearer token). It also refuses cross-site unsafe requests (CSRF): an
unsafe request made with the cookie needs the session's CSRF token and, when it sends an Origin, the
console's own. A request with `Authorization: Bearer` is not a cookie request: the cookie is ignored.

`upstream_token` is the dependency that gives the token to send to the services: the session's (refreshed
or re-minted before it expires) or the caller's own bearer token."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request, Response
from starlette.datastructures import Headers
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from telesales_runtime.auth import Caller, Principal, mint_token
from telesales_runtime.http import Problem, problem_response

from . import domain
from .settings import ConsoleSettings
from .store import Doc, SessionStore

if TYPE_CHECKING:
    from .oidc import OidcClient, TokenSet

log = logging.getLogger(__name__)

# Writing last use on every request would make every read a write: once a minute is precise enough.
TOUCH_EVERY = timedelta(minutes=1)
# Signing in again replaces the session: these check the Origin themselves (login CSRF), not the old
# session's token.
SIGN_IN_PATHS = frozenset({"/auth/dev-login"})


@dataclass(frozen=True)
class BrowserSession:
    key: str  # domain.session_key of the cookie's id
    principal: Principal
    name: str
    token: str
    token_expires_at: datetime | None
    refresh_token: str | None
    csrf_token: str
    kind: str  # "dev" (token minted here) or "oidc" (token of the identity provider)
    times: domain.SessionTimes

    @classmethod
    def of(cls, doc: Doc, idle: timedelta) -> BrowserSession:
        principal = Principal(sub=doc["sub"], roles=frozenset(doc["roles"]), tenant=doc["tenant"], team=doc.get("team"))
        times = domain.SessionTimes(started_at=_aware(doc["started_at"]), expires_at=_aware(doc["expires_at"]),
                                    last_used_at=_aware(doc["last_used_at"]), idle=idle)
        expires = doc.get("token_expires_at")
        return cls(key=doc["_id"], principal=principal, name=doc.get("name") or doc["sub"], token=doc["token"],
                   token_expires_at=_aware(expires) if expires else None, refresh_token=doc.get("refresh_token"),
                   csrf_token=doc["csrf_token"], kind=doc["kind"], times=times)


def _millis(value: datetime) -> datetime:
    """MongoDB keeps milliseconds: the session answered at sign-in is the one read back later."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _aware(value: datetime) -> datetime:
    """MongoDB gives naive UTC datetimes back."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class Sessions:
    """Making, finding, refreshing and ending sessions."""

    def __init__(self, settings: ConsoleSettings, store: SessionStore, oidc: OidcClient | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self.store = store
        self.oidc = oidc
        self.clock = clock
        self.length = timedelta(hours=settings.session_hours)
        self.idle = timedelta(minutes=settings.session_idle_minutes)

    async def start(self, principal: Principal, *, name: str, kind: str, token: str,
                    token_expires_at: datetime | None, refresh_token: str | None = None,
                    replacing: str | None = None) -> tuple[str, BrowserSession]:
        """A new session (a new id: the id a browser had before sign-in is never kept) and its cookie's id."""
        if replacing:
            await self.store.end_session(domain.session_key(replacing))
        session_id, now = domain.random_token(), _millis(self.clock())
        doc = {"sub": principal.sub, "roles": sorted(principal.roles), "tenant": principal.tenant,
               "team": principal.team, "name": name, "kind": kind, "token": token,
               "token_expires_at": token_expires_at, "refresh_token": refresh_token,
               "csrf_token": domain.random_token(), "started_at": now, "expires_at": now + self.length,
               "last_used_at": now, "ends_at": min(now + self.length, now + self.idle)}
        key = domain.session_key(session_id)
        await self.store.create_session(key, doc)
        return session_id, BrowserSession.of({"_id": key, **doc}, self.idle)

    async def find(self, session_id: str) -> BrowserSession | None:
        """The live session of a cookie's id (its last use recorded), or None."""
        now = self.clock()
        doc = await self.store.session(domain.session_key(session_id), now)
        if doc is None:
            return None
        session = BrowserSession.of(doc, self.idle)
        if not session.times.alive(now):
            return None
        if now - session.times.last_used_at >= TOUCH_EVERY:
            times = replace(session.times, last_used_at=now)
            await self.store.touch_session(session.key, last_used_at=now, ends_at=times.ends_at)
            session = replace(session, times=times)
        return session

    async def end(self, session_id: str) -> None:
        await self.store.end_session(domain.session_key(session_id))

    async def begin_sign_in(self, *, state: str, nonce: str, code_verifier: str, next_url: str,
                            lasting: timedelta) -> None:
        """Remember an OpenID Connect sign-in until its callback (or until it expires)."""
        await self.store.begin_sign_in(state, {"nonce": nonce, "code_verifier": code_verifier, "next": next_url,
                                               "expires_at": self.clock() + lasting})

    async def take_sign_in(self, state: str) -> Doc | None:
        """The sign-in `state` started, once: a second callback with the same state finds nothing."""
        return await self.store.take_sign_in(state, self.clock())

    async def fresh_token(self, session: BrowserSession) -> str:
        """The session's token, refreshed (OIDC) or re-minted (dev) when it is about to expire."""
        margin = timedelta(seconds=self.settings.token_refresh_margin_seconds)
        if not domain.token_needs_refresh(session.token_expires_at, self.clock(), margin):
            return session.token
        if session.kind == "dev":
            token, expires = self.mint(session.principal)
            refresh = None
        else:
            if self.oidc is None or not session.refresh_token:
                raise Problem(401, "Session expired", "The sign-in has expired: sign in again.", code="unauthorized")
            tokens: TokenSet = await self.oidc.refresh(session.refresh_token)
            token, expires, refresh = tokens.access_token, tokens.expires_at, tokens.refresh_token or session.refresh_token
        doc = await self.store.replace_token(session.key, token=token, token_expires_at=expires,
                                             refresh_token=refresh, expected_token=session.token)
        return doc["token"] if doc else token

    def mint(self, principal: Principal) -> tuple[str, datetime]:
        """A development token for `principal`, valid as long as a session lasts."""
        s = self.settings
        secret = s.auth_hs256_secret.get_secret_value() if s.auth_hs256_secret else None
        if not secret:
            raise RuntimeError("development sign-in mints HS256 tokens: set TELESALES_AUTH_HS256_SECRET")
        ttl = int(self.length.total_seconds())
        token = mint_token(principal.sub, sorted(principal.roles), tenant=principal.tenant, team=principal.team,
                           ttl_seconds=ttl, secret=secret, issuer=s.auth_issuer, audience=s.auth_audience)
        return token, self.clock() + timedelta(seconds=ttl)

    # ---- the cookie ----

    def set_cookie(self, response: Response, session_id: str) -> None:
        response.set_cookie(self.settings.session_cookie_name, session_id, max_age=int(self.length.total_seconds()),
                            path="/", secure=self.settings.session_cookie_secure, httponly=True, samesite="lax")

    def clear_cookie(self, response: Response) -> None:
        response.delete_cookie(self.settings.session_cookie_name, path="/", secure=self.settings.session_cookie_secure,
                               httponly=True, samesite="lax")


def has_bearer(headers: Headers) -> bool:
    return headers.get("authorization", "").lower().startswith("bearer ")


class SessionMiddleware:
    """Finds the session of a request's cookie, refuses cross-site unsafe requests, and puts the caller on
    `request.state.principal` (and the session on `request.state.session`)."""

    def __init__(self, app: ASGIApp, *, sessions: Sessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The built app's files are the same for everybody: a page's thirty of them need no session lookups.
        if scope["type"] != "http" or scope["path"].startswith(domain.ASSETS_PATH):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        session_id = connection.cookies.get(self.sessions.settings.session_cookie_name)
        if session_id and not has_bearer(connection.headers):
            session = await self.sessions.find(session_id)
            if session is not None:
                refusal = None if scope["path"] in SIGN_IN_PATHS else domain.csrf_refusal(method=scope["method"], origin=connection.headers.get("origin"),
                                              sent_token=connection.headers.get("x-csrf-token"),
                                              session_token=session.csrf_token,
                                              public_url=self.sessions.settings.public_url)
                if refusal is not None:
                    response = problem_response(403, "Csrf", refusal, scope["path"], code="csrf")
                    await response(scope, receive, send)
                    return
                state: dict[str, Any] = scope.setdefault("state", {})
                state["session"] = session
                state["principal"] = session.principal
        await self.app(scope, receive, send)


def current_session(request: Request) -> BrowserSession | None:
    return getattr(request.state, "session", None)


def sessions_of(request: Request) -> Sessions:
    return request.app.state.sessions


async def upstream_token(request: Request, principal: Caller) -> str:
    """FastAPI dependency: the token to call the services with for the signed-in caller (401 otherwise)."""
    session = current_session(request)
    if session is not None:
        return await sessions_of(request).fresh_token(session)
    return request.headers["authorization"].split(None, 1)[1].strip()


UpstreamToken = Annotated[str, Depends(upstream_token)]
