"""OpenID Connect client of the console (production sign-in): authorization code with PKCE (S256), state and
nonce; the ID token checked with the provider's keys (JWKS); the access token is what the services receive,
refreshed with the refresh token before it expires."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from telesales_runtime.http import Problem

from .settings import ConsoleSettings

ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class SignInFailed(Exception):
    """The provider refused, or answered something that cannot be trusted; the message says which."""


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    expires_at: datetime | None
    refresh_token: str | None
    id_token: str | None


class OidcClient:
    """One provider (settings.oidc_issuer), one client (settings.oidc_client_id)."""

    def __init__(self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not (settings.oidc_issuer and settings.oidc_client_id):
            raise ValueError("OpenID Connect needs CONSOLE_OIDC_ISSUER and CONSOLE_OIDC_CLIENT_ID")
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self.secret = settings.oidc_client_secret
        self.scopes = settings.oidc_scopes
        self.resource = settings.oidc_resource
        self.redirect_uri = settings.public_url.rstrip("/") + "/auth/callback"
        self.leeway = settings.auth_leeway_seconds
        self.http = httpx.AsyncClient(timeout=settings.upstream_timeout_seconds, transport=transport)
        self._metadata: dict[str, Any] | None = None
        self._keys: jwt.PyJWKClient | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    async def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (read once)."""
        if self._metadata is None:
            try:
                answer = await self.http.get(f"{self.issuer}/.well-known/openid-configuration")
                answer.raise_for_status()
                metadata = answer.json()
            except (httpx.HTTPError, ValueError) as error:
                raise Problem(502, "Identity provider unavailable", f"{self.issuer} does not answer its "
                              f"discovery document: {error}", code="idp_unavailable") from error
            if metadata.get("issuer", "").rstrip("/") != self.issuer:
                raise Problem(502, "Identity provider misconfigured", f"The discovery document names issuer "
                              f"{metadata.get('issuer')!r}, not {self.issuer!r}.", code="idp_misconfigured")
            self._metadata = metadata
            self._keys = jwt.PyJWKClient(metadata["jwks_uri"], cache_keys=True, lifespan=300)
        return self._metadata

    async def authorization_url(self, *, state: str, nonce: str, code_challenge: str) -> str:
        metadata = await self.metadata()
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": self.scopes, "state": state, "nonce": nonce, "code_challenge": code_challenge,
                  "code_challenge_method": "S256"}
        if self.resource:
            params["resource"] = self.resource
        return f"{metadata['authorization_endpoint']}?{urlencode(params)}"

    async def exchange(self, *, code: str, code_verifier: str) -> TokenSet:
        return await self._token_request({"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": self.redirect_uri, "code_verifier": code_verifier})

    async def refresh(self, refresh_token: str) -> TokenSet:
        try:
            return await self._token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
        except SignInFailed as error:
            raise Problem(401, "Session expired", f"The sign-in could not be renewed ({error}): sign in again.",
                          code="unauthorized") from error

    async def _token_request(self, form: dict[str, str]) -> TokenSet:
        metadata = await self.metadata()
        auth = (self.client_id, self.secret) if self.secret else None
        if auth is None:
            form = {**form, "client_id": self.client_id}
        if self.resource:
            form = {**form, "resource": self.resource}
        try:
            answer = await self.http.post(metadata["token_endpoint"], data=form, auth=auth or httpx.USE_CLIENT_DEFAULT,
                                          headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise Problem(502, "Identity provider unavailable", f"The token endpoint does not answer: {error}",
                          code="idp_unavailable") from error
        body = _json(answer)
        if answer.status_code != 200 or "access_token" not in body:
            raise SignInFailed(f"{body.get('error', answer.status_code)}: {body.get('error_description', '')}".strip())
        expires_in = body.get("expires_in")
        expires_at = datetime.now(UTC) + timedelta(seconds=int(expires_in)) if expires_in else None
        return TokenSet(access_token=body["access_token"], expires_at=expires_at,
                        refresh_token=body.get("refresh_token"), id_token=body.get("id_token"))

    async def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims, checked: signature (provider's JWKS), issuer, audience, expiry, nonce."""
        await self.metadata()
        assert self._keys is not None
        try:
            key = await asyncio.to_thread(self._keys.get_signing_key_from_jwt, id_token)  # may fetch the keys
            claims = jwt.decode(id_token, key.key, algorithms=ID_TOKEN_ALGORITHMS, audience=self.client_id,
                                issuer=self.issuer, leeway=self.leeway,
                                options={"require": ["iss", "aud", "sub", "exp", "iat"]})
        except jwt.PyJWTError as error:
            raise SignInFailed(f"the ID token is not valid: {error}") from error
        if claims.get("nonce") != nonce:
            raise SignInFailed("the ID token's nonce is not the one this sign-in sent")
        return claims


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
