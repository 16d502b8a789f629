"""Bearer tokens for tests, the local stack and the tools: HS256 with the local development secret, the
issuer and the audience every service accepts by default (see telesales_runtime.auth for the claims)."""

from __future__ import annotations

import time
from collections.abc import Iterable

import jwt

# Local runs only: production sets its own secret, or RS256/JWKS keys, through the settings.
LOCAL_HS256_SECRET = "telesales-local-development-secret-not-for-production"
LOCAL_ISSUER = "telesales-local"
LOCAL_AUDIENCE = "telesales"
ROLES = ("agent", "supervisor", "operator", "admin", "service")


def mint_token(sub: str, roles: str | Iterable[str], *, tenant: str = "default", team: str | None = None,
               ttl_seconds: int = 3600, secret: str = LOCAL_HS256_SECRET, issuer: str = LOCAL_ISSUER,
               audience: str = LOCAL_AUDIENCE, **extra_claims: object) -> str:
    """A signed token for `sub` holding `roles` in `tenant` (and `team` for agents and supervisors)."""
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": issuer, "aud": audience, "sub": sub, "iat": now, "exp": now + ttl_seconds,
        "roles": [roles] if isinstance(roles, str) else list(roles), "tenant": tenant,
    }
    if team is not None:
        claims["team"] = team
    claims.update(extra_claims)
    return jwt.encode(claims, secret, algorithm="HS256")


def auth_headers(role: str | Iterable[str] = "admin", sub: str = "test-admin", *, tenant: str = "default",
                 team: str | None = None, **extra_claims: object) -> dict[str, str]:
    """The Authorization header of a request made as `sub` with `role` in `tenant`."""
    return {"Authorization": f"Bearer {mint_token(sub, role, tenant=tenant, team=team, **extra_claims)}"}
