"""Production sign-in against a real OpenID provider (node-oidc-provider, tests/oidc-provider/provider.js):
authorization code with PKCE, the provider's login and consent pages walked as a browser would, the
session made, the provider's access token sent to the services (and accepted by their verifier), refreshed
before it expires; a replayed callback is refused."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from pathlib import Path
from typing import Any

import httpx
import pytest

from console.settings import ConsoleSettings
from console_support import Upstream, console_settings, running_console
from telesales_runtime.auth import TokenVerifier
from telesales_testkit.infra import free_port

PROVIDER_DIR = Path(__file__).resolve().parents[1] / "oidc-provider"
CONSOLE = "https://console.test"


@pytest.fixture
async def provider() -> AsyncIterator[str]:
    """The provider's issuer URL, while it runs."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: the OpenID provider of this test is node-oidc-provider")
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PROVIDER_DIR, check=True, timeout=300)
    port = free_port()
    process = await asyncio.create_subprocess_exec(node, "provider.js", str(port), f"{CONSOLE}/auth/callback",
                                                   cwd=PROVIDER_DIR, stdout=asyncio.subprocess.PIPE,
                                                   stderr=asyncio.subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert line.startswith(b"ready "), line
        yield line.decode().split()[1]
    finally:
        process.terminate()
        await process.wait()


def production_settings(infra: Any, tmp_path: Path, issuer: str) -> ConsoleSettings:
    return console_settings(infra, tmp_path, auth_mode="production", public_url=CONSOLE, session_cookie_secure=True,
                            oidc_issuer=issuer, oidc_client_id="console",
                            oidc_scopes="openid profile offline_access telesales",
                            auth_issuer=issuer, auth_audience="telesales", auth_jwks_url=f"{issuer}/jwks",
                            auth_hs256_secret=None)


async def walk_provider(browser: httpx.AsyncClient, url: str, issuer: str, login: str) -> str:
    """Follow the provider's redirects, signing in and consenting on its pages; the URL it finally sends
    the browser to (the console's callback)."""
    for _ in range(12):
        if not url.startswith(issuer):
            return url
        page = await browser.get(url)
        if page.is_redirect:
            url = str(page.url.join(page.headers["location"]))
            continue
        assert page.status_code == 200, page.text
        action = unescape(re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1))  # type: ignore[union-attr]
        prompt = re.search(r'name="prompt" value="(\w+)"', page.text).group(1)  # type: ignore[union-attr]
        form = {"prompt": prompt} | ({"login": login, "password": "any"} if prompt == "login" else {})
        answer = await browser.post(str(page.url.join(action)), data=form)
        assert answer.is_redirect, answer.text
        url = str(answer.url.join(answer.headers["location"]))
    raise AssertionError("the provider never sent the browser back")


async def test_code_flow_with_pkce_makes_a_session_with_the_providers_token(infra: Any, tmp_path: Path,
                                                                         provider: str) -> None:
    upstream = Upstream()
    settings = production_settings(infra, tmp_path, provider)
    async with running_console(settings, upstream) as http, httpx.AsyncClient() as browser:
        start = await http.get("/auth/login", params={"next": "/leads/7?tab=calls"})
        assert start.status_code == 302
        authorize = httpx.URL(start.headers["location"])
        assert str(authorize).startswith(provider)
        assert authorize.params["code_challenge_method"] == "S256" and len(authorize.params["code_challenge"]) == 43
        assert authorize.params["state"] and authorize.params["nonce"]
        assert "code_verifier" not in str(authorize)
        assert f"form-action 'self' {provider}" in start.headers["content-security-policy"]

        back = httpx.URL(await walk_provider(browser, str(authorize), provider, "li-si"))
        assert str(back).startswith(f"{CONSOLE}/auth/callback")
        done = await http.get(back.raw_path.decode())
        assert done.status_code == 302, done.text
        assert done.headers["location"] == "/leads/7?tab=calls"
        assert "secure" in done.headers["set-cookie"].lower() and "httponly" in done.headers["set-cookie"].lower()

        session = (await http.get("/v1/session")).json()
        assert session["user"] == {"sub": "li-si", "name": "Li Si", "roles": ["agent"], "tenant": "default",
                                   "team": "team-a"}

        # The services receive the provider's access token, and accept it as they verify tokens.
        assert (await http.get("/api/allocator/v1/tiers")).status_code == 404  # the mock knows no tiers
        token = upstream.requests[-1].headers["authorization"].split(" ", 1)[1]
        services = ConsoleSettings(auth_mode="production", auth_issuer=provider, auth_audience="telesales",
                                   auth_jwks_url=f"{provider}/jwks", auth_hs256_secret=None,
                                   oidc_issuer=provider, oidc_client_id="console", session_cookie_secure=True)
        caller = await asyncio.to_thread(TokenVerifier(services).verify, token)
        assert (caller.sub, caller.roles, caller.tenant, caller.team) == ("li-si", frozenset({"agent"}), "default",
                                                                          "team-a")

        # Shortly before it expires, the token is refreshed with the refresh token.
        sessions = http.app.state.sessions  # type: ignore[attr-defined]
        real_clock = sessions.clock
        sessions.clock = lambda: real_clock() + timedelta(seconds=250)  # the provider's tokens live 300 s
        try:
            await http.get("/api/allocator/v1/tiers")
        finally:
            sessions.clock = real_clock
        renewed = upstream.requests[-1].headers["authorization"].split(" ", 1)[1]
        assert renewed != token
        assert (await asyncio.to_thread(TokenVerifier(services).verify, renewed)).sub == "li-si"

        # A callback is good once.
        replay = await http.get(back.raw_path.decode())
        assert replay.status_code in (400, 403) and replay.json()["code"] in ("sign_in_expired", "sign_in_mismatch")


async def test_a_callback_from_another_browser_is_refused(infra: Any, tmp_path: Path, provider: str) -> None:
    settings = production_settings(infra, tmp_path, provider)
    async with running_console(settings, Upstream()) as http, httpx.AsyncClient() as browser:
        start = await http.get("/auth/login", params={"next": "https://evil.example/"})
        back = httpx.URL(await walk_provider(browser, start.headers["location"], provider, "li-si"))
        http.cookies.clear()  # the victim's browser never started this sign-in
        refused = await http.get(back.raw_path.decode())
        assert refused.status_code == 403 and refused.json()["code"] == "sign_in_mismatch"
        assert "ts_session" not in http.cookies
