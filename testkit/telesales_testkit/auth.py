"""Bearer tokens for tests, the local stack and the tools: HS256 with the local development secret, the
issuer and the audience every service accepts by default (the constants and the claims are
telesales_runtime.auth's)."""

from __future__ import annotations

from collections.abc import Iterable

from telesales_runtime.auth import LOCAL_AUDIENCE, LOCAL_HS256_SECRET, LOCAL_ISSUER, ROLES, mint_token

__all__ = ["LOCAL_AUDIENCE", "LOCAL_HS256_SECRET", "LOCAL_ISSUER", "ROLES", "auth_headers", "mint_token"]


def auth_headers(role: str | Iterable[str] = "admin", sub: str = "test-admin", *, tenant: str = "default",
                 team: str | None = None, **extra_claims: object) -> dict[str, str]:
    """The Authorization header of a request made as `sub` with `role` in `tenant`."""
    return {"Authorization": f"Bearer {mint_token(sub, role, tenant=tenant, team=team, **extra_claims)}"}
