"""Bearer tokens (JWT) for every HTTP API: who calls (`sub`), in which roles, tenant and team.

Tokens are verified with the settings' issuer, audience, algorithms and keys: an HS256 secret (local
runs: the well-known development secret below), an RS256 public key (PEM), or a JWKS URL (keys fetched and
cached). Claims: iss, aud, sub, exp (required), roles (list of agent, supervisor, operator, admin,
service, auditor), tenant, team (agents and supervisors).

Each service declares, in its api.py, one table `ACCESS` from "METHOD /path" to the roles that may call
the route; `create_service_app` puts one dependency (`authorize`) on every router of the service and
refuses to build an application with a route missing from the table. /healthz, /readyz and /metrics
stay open (probes and Prometheus scrape them). `admin` may call every route; object rules (an agent only
its own leads, wallet and purchases; a supervisor its team) are checked by the routes with the
`Principal` the dependency put on the request.

Tenant: the token's `tenant` claim. X-Tenant-Id may name another tenant only for `admin` and `service`
tokens (the tools and machine clients work across tenants); for every other role a different X-Tenant-Id
is refused with 403 `tenant_mismatch`.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
import jwt
from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from telesales_contracts import is_tenant_id

from .auth_defaults import LOCAL_AUDIENCE, LOCAL_HS256_SECRET, LOCAL_ISSUER
from .problems import Problem, coded_problem
from .settings import ServiceSettings

# auditor: read-only, for the legal and security teams: it may read the access logs (who saw which number,
# telesales_runtime.access_log) and nothing else, so that an audit needs no access to the data itself.
ROLES = ("agent", "supervisor", "operator", "admin", "service", "auditor")
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Who may work in another tenant than the token's (X-Tenant-Id).
CROSS_TENANT_ROLES = frozenset({"admin", "service"})


@dataclass(frozen=True)
class Principal:
    """Who calls, from a verified token."""

    sub: str
    roles: frozenset[str]
    tenant: str
    team: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def trusted(self) -> bool:
        """admin and service: no object rules (they act for the platform)."""
        return self.has("admin", "service")


def _problem(status: int, code: str, message: str, **extra: Any) -> Problem:
    problem = coded_problem(status, code, message, **extra)
    if status == 401:
        problem.headers = {"WWW-Authenticate": 'Bearer realm="telesales"'}
    return problem


def unauthorized(message: str) -> Exception:
    return _problem(401, "unauthorized", message)


def forbidden(code: str, message: str) -> Exception:
    return _problem(403, code, message)


class TokenVerifier:
    """Verifies bearer tokens with a service's settings (keys read once; JWKS keys cached)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.issuer = settings.auth_issuer
        self.audience = settings.auth_audience
        self.algorithms = list(settings.auth_algorithms)
        self.leeway = settings.auth_leeway_seconds
        self.secret = settings.auth_hs256_secret.get_secret_value() if settings.auth_hs256_secret else None
        self.public_key = settings.auth_rs256_public_key
        self.jwks = jwt.PyJWKClient(settings.auth_jwks_url, cache_keys=True, lifespan=300) \
            if settings.auth_jwks_url else None

    def _key(self, token: str, algorithm: str) -> Any:
        if algorithm.startswith("HS"):
            if not self.secret:
                raise jwt.InvalidTokenError("no shared secret configured")
            return self.secret
        if self.jwks is not None:
            return self.jwks.get_signing_key_from_jwt(token).key
        if self.public_key:
            return self.public_key
        raise jwt.InvalidTokenError("no public key configured")

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; jwt.PyJWTError otherwise."""
        return self.verify_claims(token)[0]

    def verify_claims(self, token: str) -> tuple[Principal, dict[str, Any]]:
        """The principal of a valid token and its claims; jwt.PyJWTError otherwise."""
        algorithm = jwt.get_unverified_header(token).get("alg")
        if algorithm not in self.algorithms:
            raise jwt.InvalidAlgorithmError(f"algorithm {algorithm!r} is not accepted")
        claims = jwt.decode(token, self._key(token, algorithm), algorithms=[algorithm], audience=self.audience,
                            issuer=self.issuer, leeway=self.leeway,
                            options={"require": ["exp", "iss", "aud", "sub"]})
        roles = claims.get("roles", [])
        if isinstance(roles, str):
            roles = [roles]
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise jwt.InvalidTokenError("roles must be a list of strings")
        tenant = claims.get("tenant", "default")
        if not isinstance(tenant, str) or not is_tenant_id(tenant):
            raise jwt.InvalidTokenError("tenant must be a tenant id")
        team = claims.get("team")
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub or (team is not None and not isinstance(team, str)):
            raise jwt.InvalidTokenError("sub and team must be strings")
        return Principal(sub=sub, roles=frozenset(r for r in roles if r in ROLES), tenant=tenant, team=team), claims


class VerifiedTokens:
    """Principals of tokens verified before, by the token's SHA-256, each until its `exp` (with the
    verifier's leeway). A client sends the same token with every request until it expires: verifying
    its signature and claims again each time was a tenth of a read route's CPU (the marketplace
    benchmark). Only valid tokens are kept, at most `size` of them (the oldest go first)."""

    def __init__(self, verifier: TokenVerifier, size: int = 10_000) -> None:
        self.verifier = verifier
        self.size = size
        self._known: dict[bytes, tuple[Principal, float]] = {}

    def cached(self, token: str) -> Principal | None:
        """The principal of `token` when it was verified before and has not expired since."""
        key = hashlib.sha256(token.encode()).digest()
        known = self._known.get(key)
        if known is None:
            return None
        if time.time() >= known[1]:
            del self._known[key]  # expired: verified again, which says so
            return None
        return known[0]

    def remember(self, token: str, verified: tuple[Principal, dict[str, Any]]) -> Principal:
        """Keep what `TokenVerifier.verify_claims` said of `token` until its exp; its principal."""
        principal, claims = verified
        expires = claims.get("exp")
        if isinstance(expires, int | float) and not isinstance(expires, bool):
            if len(self._known) >= self.size:
                del self._known[next(iter(self._known))]
            self._known[hashlib.sha256(token.encode()).digest()] = (principal, expires + self.verifier.leeway)
        return principal


def _verifier(request: Request) -> TokenVerifier:
    state = request.app.state
    verifier = getattr(state, "token_verifier", None)
    if verifier is None:
        verifier = state.token_verifier = TokenVerifier(state.settings)
    return verifier


def _verified_tokens(request: Request) -> VerifiedTokens:
    state = request.app.state
    tokens = getattr(state, "verified_tokens", None)
    verifier = _verifier(request)
    if tokens is None or tokens.verifier is not verifier:  # a test may set another verifier
        tokens = state.verified_tokens = VerifiedTokens(verifier)
    return tokens


# Declares the scheme in every service's OpenAPI (the /docs "Authorize" button); checking is ours.
_BEARER = HTTPBearer(auto_error=False, bearerFormat="JWT",
                     description="A JWT of the platform's issuer: sub, roles, tenant, team (README, Authentication).")


async def authenticate(request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Principal:
    """FastAPI dependency: the caller of a request with a valid bearer token (401 otherwise)."""
    known = getattr(request.state, "principal", None)
    if known is not None:
        return known
    token = credentials.credentials if credentials is not None else ""
    if not token.strip():
        raise unauthorized("Send Authorization: Bearer <token>.")
    tokens = _verified_tokens(request)
    token = token.strip()
    try:
        principal = tokens.cached(token)
        if principal is None:
            if tokens.verifier.jwks is not None:  # may fetch keys over the network: not on the event loop
                verified = await asyncio.to_thread(tokens.verifier.verify_claims, token)
            else:
                verified = tokens.verifier.verify_claims(token)
            principal = tokens.remember(token, verified)
    except jwt.ExpiredSignatureError as error:
        raise unauthorized("The token has expired.") from error
    except jwt.PyJWTError as error:
        raise unauthorized(f"The token is not valid: {error}.") from error
    request.state.principal = principal
    return principal


Caller = Annotated[Principal, Depends(authenticate)]


def route_key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


async def authorize(request: Request, principal: Caller) -> Principal:
    """Router dependency: the caller holds a role the service's ACCESS table allows for this route."""
    route = request.scope.get("route")
    access: Mapping[str, Collection[str]] = request.app.state.access
    allowed = access.get(route_key(request.method, route.path)) if isinstance(route, APIRoute) else None
    if allowed is None:  # HEAD of a GET route
        allowed = access.get(route_key("GET", route.path)) if isinstance(route, APIRoute) else None
    if allowed is None:
        raise forbidden("forbidden_role", "This route is not open to any role.")
    if not principal.has("admin", *allowed):
        raise forbidden("forbidden_role", f"This route needs one of the roles: {', '.join(sorted(allowed))}.")
    return principal


async def tenant_of(request: Request, principal: Caller) -> str:
    """FastAPI dependency: the tenant a request works in: the token's; X-Tenant-Id may choose another only
    for admin and service tokens. (A coroutine, as every dependency here: FastAPI runs a plain function
    in a worker thread.)"""
    header = request.headers.get("x-tenant-id")
    if header is None or header == principal.tenant:
        return principal.tenant
    if not is_tenant_id(header):
        raise Problem(400, "Invalid tenant", "X-Tenant-Id must be lowercase letters, digits and dashes (1-63).")
    if not principal.has(*CROSS_TENANT_ROLES):
        raise forbidden("tenant_mismatch", "X-Tenant-Id names another tenant than the token's.")
    return header


def check_access_table(routers: Iterable[APIRouter], access: Mapping[str, Collection[str]]) -> None:
    """Every route of `routers` is in `access` (and nothing else is): refuse to build a service with a
    route no role is named for."""
    keys: set[str] = set()
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute):
            raise RuntimeError(f"unexpected route {route!r}: include routers' routes, not routers")
        for method in route.methods - {"HEAD", "OPTIONS"}:
            key = route_key(method, route.path)
            keys.add(key)
            if key not in access:
                raise RuntimeError(f"route {key} has no roles in the service's ACCESS table")
            unknown = set(access[key]) - set(ROLES)
            if unknown:
                raise RuntimeError(f"route {key}: unknown roles {sorted(unknown)}")
    stale = set(access) - keys
    if stale:
        raise RuntimeError(f"ACCESS names routes that do not exist: {sorted(stale)}")


# ---- object rules ------------------------------------------------------------------------------------


def require_self(principal: Principal, user_id: str, code: str = "not_yours", *, also: Iterable[str] = ()) -> None:
    """An agent (or any caller not in `also`, admin and service aside) acts only for itself."""
    if principal.trusted or principal.has(*also) or principal.sub == user_id:
        return
    raise forbidden(code, f"{principal.sub} may not act for {user_id}.")


def require_team(principal: Principal, user_id: str, team_of_user: str | None, code: str = "not_your_team",
                 *, also: Iterable[str] = ()) -> None:
    """The caller itself, a supervisor of the user's team, admin, service, or a role in `also`."""
    if principal.trusted or principal.has(*also) or principal.sub == user_id:
        return
    if principal.has("supervisor") and principal.team is not None and principal.team == team_of_user:
        return
    raise forbidden(code, f"{principal.sub} may not act for {user_id}.")


# ---- machine clients ---------------------------------------------------------------------------------


def mint_token(sub: str, roles: str | Iterable[str], *, tenant: str = "default", team: str | None = None,
               ttl_seconds: int = 3600, secret: str = LOCAL_HS256_SECRET, issuer: str = LOCAL_ISSUER,
               audience: str = LOCAL_AUDIENCE, **extra_claims: object) -> str:
    """A signed HS256 token for `sub` holding `roles` in `tenant` (and `team` for agents and supervisors)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer, "aud": audience, "sub": sub, "iat": now, "exp": now + ttl_seconds,
        "roles": [roles] if isinstance(roles, str) else list(roles), "tenant": tenant,
    }
    if team is not None:
        claims["team"] = team
    claims.update(extra_claims)
    return jwt.encode(claims, secret, algorithm="HS256")


class ServiceTokenAuth(httpx.Auth):
    """httpx auth of a service calling another: the configured token (auth_service_token), or, without
    one, a short-lived `service` token it signs itself with the HS256 secret (sub = its service name)."""

    def __init__(self, settings: ServiceSettings, ttl_seconds: int = 600) -> None:
        self.static = settings.auth_service_token.get_secret_value() if settings.auth_service_token else None
        self.secret = settings.auth_hs256_secret.get_secret_value() if settings.auth_hs256_secret else None
        self.settings = settings
        self.ttl = ttl_seconds
        self._token: tuple[str, float] | None = None

    def token(self) -> str:
        if self.static:
            return self.static
        if self.secret is None:
            raise RuntimeError("set auth_service_token (or an HS256 secret) to call other services")
        if self._token is None or self._token[1] < time.time() + 60:
            s = self.settings
            token = mint_token(s.service_name, "service", tenant=s.default_tenant, ttl_seconds=self.ttl,
                               secret=self.secret, issuer=s.auth_issuer, audience=s.auth_audience)
            self._token = (token, time.time() + self.ttl)
        return self._token[0]

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


RoleTable = Mapping[str, Collection[str]]
AccessCheck = Callable[[Principal], None]
