"""Sign-in and sign-out routes (/auth/...): open routes, outside the ACCESS table (nobody is signed in yet).
Development: POST /auth/dev-login signs in a roster member by id, or one of the back-office staff the
settings name (`dev_staff`: operators, auditors). Production: OpenID Connect
(GET /auth/login -> the provider -> GET /auth/callback). Every sign-in makes a new session id."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

import httpx
import jwt
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from telesales_contracts.envelope import TenantId
from telesales_contracts.roster import Identifier
from telesales_runtime.auth import Principal, TokenVerifier
from telesales_runtime.errors import DomainError
from telesales_runtime.http import Problem, coded_problem

from . import domain
from .oidc import OidcClient, SignInFailed
from .security import require_same_origin
from .session import BrowserSession, sessions_of
from .settings import ConsoleSettings

SIGN_IN_COOKIE = "ts_sign_in"

signin_router = APIRouter(tags=["sign-in"], dependencies=[Depends(require_same_origin)])


class DevLoginIn(BaseModel):
    agent_id: Identifier
    tenant: TenantId | None = None


class SessionUser(BaseModel):
    sub: str
    name: str | None
    roles: list[str]
    tenant: str
    team: str | None


class SessionView(BaseModel):
    """Who is signed in, the CSRF token unsafe requests send, when the session ends, the dialer to call with."""

    user: SessionUser
    csrf_token: str
    expires_at: str
    dialer_url: str | None = Field(description="Dialer URL template with {phone} and {lead_id}; a tel: link "
                                   "when null. {phone} is the privacy provider's middle number when the tenant "
                                   "calls through one.")


class SignInMethods(BaseModel):
    """How one may sign in here: the login page offers only these."""

    development: bool = Field(description="POST /auth/dev-login (refused when TELESALES_AUTH_MODE=production).")
    sso: bool = Field(description="GET /auth/login: OpenID Connect, when an identity provider is configured.")


def session_view(session: BrowserSession, settings: ConsoleSettings) -> dict[str, Any]:
    """What GET /v1/session answers (and the sign-in routes that answer JSON): a SessionView."""
    p = session.principal
    return {"user": {"sub": p.sub, "name": session.name, "roles": sorted(p.roles), "tenant": p.tenant, "team": p.team},
            "csrf_token": session.csrf_token, "expires_at": session.times.expires_at.isoformat(),
            "dialer_url": settings.dialer_url}


def _settings(request: Request) -> ConsoleSettings:
    return request.app.state.settings


async def roster_member(request: Request, *, tenant: str, agent_id: str) -> dict[str, Any]:
    """The allocator's record of a roster member, read with the console's service token."""
    settings = _settings(request)
    url = f"{settings.allocator_url.rstrip('/')}/v1/agents/{agent_id}"
    try:
        answer = await request.app.state.service_http.get(url, headers={"X-Tenant-Id": tenant})
    except httpx.HTTPError as error:
        raise Problem(502, "Bad gateway", f"The allocator does not answer: {error}", code="upstream_unavailable") \
            from error
    if answer.status_code == 404:
        raise coded_problem(404, "unknown_agent", f"There is no roster member {agent_id!r} in tenant {tenant!r}.")
    if answer.status_code != 200:
        raise Problem(502, "Bad gateway", f"The allocator answered {answer.status_code} to the roster read.",
                      code="upstream_failed")
    return answer.json()


@signin_router.get("/auth/methods", response_model=SignInMethods, summary="How one may sign in here")
async def methods(request: Request) -> SignInMethods:
    settings = _settings(request)
    return SignInMethods(development=settings.auth_mode != "production", sso=settings.oidc_issuer is not None)


@signin_router.post("/auth/dev-login", response_model=SessionView, summary="Development sign-in of a roster member (local mode only)")
async def dev_login(body: DevLoginIn, request: Request) -> JSONResponse:
    settings, sessions = _settings(request), sessions_of(request)
    if settings.auth_mode == "production":
        raise Problem(404, "Not Found", "Development sign-in is off in production: sign in with GET /auth/login.",
                      code="not_found")
    tenant = body.tenant or settings.default_tenant
    staff_role = settings.dev_staff.get(body.agent_id)
    if staff_role is not None:  # operators and auditors work off the floor: no roster record to read
        principal, name = Principal(sub=body.agent_id, roles=frozenset({staff_role}), tenant=tenant), body.agent_id
    else:
        principal, name = await _roster_principal(request, tenant=tenant, agent_id=body.agent_id)
    token, token_expires_at = sessions.mint(principal)
    session_id, session = await sessions.start(principal, name=name, kind="dev", token=token,
                                               token_expires_at=token_expires_at,
                                               replacing=request.cookies.get(settings.session_cookie_name))
    response = JSONResponse(session_view(session, settings))
    sessions.set_cookie(response, session_id)
    return response


async def _roster_principal(request: Request, *, tenant: str, agent_id: str) -> tuple[Principal, str]:
    """Who an active roster member signs in as (an agent, a supervisor; a manager as a supervisor)."""
    member = await roster_member(request, tenant=tenant, agent_id=agent_id)
    if not member.get("active", False):
        raise coded_problem(403, "agent_inactive", f"{agent_id} is not active on the roster.")
    try:
        roles = domain.token_roles(str(member.get("role")))
    except DomainError as error:
        raise coded_problem(403, error.code, error.message) from error
    principal = Principal(sub=agent_id, roles=frozenset(roles), tenant=tenant, team=member.get("team_id"))
    return principal, member.get("name") or agent_id


def _oidc(request: Request) -> OidcClient:
    oidc = request.app.state.oidc
    if oidc is None:
        raise Problem(404, "Not Found", "OpenID Connect sign-in is not configured (CONSOLE_OIDC_ISSUER).",
                      code="not_found")
    return oidc


@signin_router.get("/auth/login", summary="Start an OpenID Connect sign-in (302 to the identity provider)")
async def login(request: Request, next_: Annotated[str | None, Query(alias="next")] = None) -> RedirectResponse:
    oidc, settings, sessions = _oidc(request), _settings(request), sessions_of(request)
    state, nonce, verifier = domain.random_token(), domain.random_token(), domain.random_token(48)
    minutes = timedelta(minutes=settings.sign_in_minutes)
    url = await oidc.authorization_url(state=state, nonce=nonce, code_challenge=domain.pkce_challenge(verifier))
    await sessions.begin_sign_in(state=state, nonce=nonce, code_verifier=verifier, next_url=domain.safe_next(next_),
                                 lasting=minutes)
    response = RedirectResponse(url, status_code=302)
    # Binds the sign-in to this browser: a callback carrying another browser's state is refused.
    response.set_cookie(SIGN_IN_COOKIE, state, max_age=int(minutes.total_seconds()), path="/auth",
                        secure=settings.session_cookie_secure, httponly=True, samesite="lax")
    return response


def _sign_in_failed(message: str, code: str = "sign_in_failed", status: int = 401) -> Problem:
    return coded_problem(status, code, message)


@signin_router.get("/auth/callback", summary="The identity provider's answer: make the session, 302 to `next`")
async def callback(request: Request, state: str = "", code: str | None = None, error: str | None = None,
                   error_description: str | None = None) -> RedirectResponse:
    oidc, settings, sessions = _oidc(request), _settings(request), sessions_of(request)
    if not state or not domain.same_secret(request.cookies.get(SIGN_IN_COOKIE), state):
        raise _sign_in_failed("This sign-in was not started in this browser: start again.", "sign_in_mismatch", 403)
    started = await sessions.take_sign_in(state)
    if started is None:
        raise _sign_in_failed("This sign-in has expired or was already used: start again.", "sign_in_expired", 400)
    if error or not code:
        raise _sign_in_failed(f"The identity provider refused the sign-in: {error or 'no code'} "
                              f"{error_description or ''}".strip())
    try:
        tokens = await oidc.exchange(code=code, code_verifier=started["code_verifier"])
        if not tokens.id_token:
            raise SignInFailed("the provider sent no ID token")
        identity = await oidc.verify_id_token(tokens.id_token, nonce=started["nonce"])
        principal = await _principal_of(request, tokens.access_token)
    except SignInFailed as failure:
        raise _sign_in_failed(f"The sign-in failed: {failure}.") from failure
    if principal.sub != identity["sub"]:
        raise _sign_in_failed("The access token and the ID token name different users.")
    name = identity.get("name") or identity.get("preferred_username") or principal.sub
    session_id, _ = await sessions.start(principal, name=name, kind="oidc", token=tokens.access_token,
                                         token_expires_at=tokens.expires_at, refresh_token=tokens.refresh_token,
                                         replacing=request.cookies.get(settings.session_cookie_name))
    response = RedirectResponse(started["next"], status_code=302)
    sessions.set_cookie(response, session_id)
    response.delete_cookie(SIGN_IN_COOKIE, path="/auth", secure=settings.session_cookie_secure, httponly=True,
                           samesite="lax")
    return response


async def _principal_of(request: Request, access_token: str) -> Principal:
    """Who the access token names, checked as the services check it (settings' issuer, audience, keys)."""
    state = request.app.state
    verifier = getattr(state, "token_verifier", None) or TokenVerifier(state.settings)
    state.token_verifier = verifier
    try:
        principal = await asyncio.to_thread(verifier.verify, access_token)
    except jwt.PyJWTError as error:
        raise SignInFailed(f"the access token would not be accepted by the services: {error}") from error
    if not principal.roles:
        raise SignInFailed("the access token grants none of the platform's roles")
    return principal


@signin_router.post("/auth/logout", status_code=204, summary="End the session and clear its cookie")
async def logout(request: Request) -> Response:
    settings, sessions = _settings(request), sessions_of(request)
    session_id = request.cookies.get(settings.session_cookie_name)
    if session_id:
        await sessions.end(session_id)
    response = Response(status_code=204)
    sessions.clear_cookie(response)
    return response
