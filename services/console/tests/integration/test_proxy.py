"""/api/<service>/...: the user's token goes to the service, the answer comes back as the service gave it
(Range and 206 included), and a service that does not answer is a 502/504 problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from console_support import MEDIA, Upstream, console_settings, dev_login, principal_of, running_console


async def test_the_users_token_and_the_request_reach_the_service(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si", team="team-a")
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        session = await dev_login(http, "li-si")
        answer = await http.patch("/api/allocator/v1/echo?a=1&b=%E4%B8%AD", content=b'{"x": 1}',
                                  headers={"X-CSRF-Token": session["csrf_token"], "Content-Type": "application/json",
                                           "If-Match": '"6"', "X-Not-Forwarded": "1"})
        assert answer.status_code == 201, answer.text
        assert answer.json() == {"method": "PATCH", "query": "a=1&b=%E4%B8%AD", "body": '{"x": 1}'}
        sent = upstream.to("127.0.0.1:8102")[-1]
        assert sent.url.path == "/v1/echo"
        caller = principal_of(sent.headers["authorization"])
        assert (caller.sub, caller.roles, caller.team) == ("li-si", frozenset({"agent"}), "team-a")
        assert sent.headers["if-match"] == '"6"' and "x-not-forwarded" not in sent.headers
        assert "cookie" not in sent.headers and "x-csrf-token" not in sent.headers
        # The service's answer, without its cookie or its connection headers, with the console's CSP.
        assert answer.headers["etag"] == '"7"' and answer.headers["x-upstream"] == "yes"
        assert "set-cookie" not in answer.headers and answer.headers.get("connection") != "close"
        assert "default-src 'self'" in answer.headers["content-security-policy"]

        for service, port in (("lead-intake", 8101), ("ledger", 8103), ("marketplace", 8104), ("metrics", 8105)):
            await http.get(f"/api/{service}/v1/anything")
            assert upstream.to(f"127.0.0.1:{port}")[-1].url.path == "/v1/anything"


async def test_media_ranges_pass_through(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        await dev_login(http, "li-si")
        part = await http.get("/api/marketplace/v1/tips/t-1/media", headers={"Range": "bytes=100-1123"})
        assert part.status_code == 206
        assert part.headers["content-range"] == f"bytes 100-1123/{len(MEDIA)}"
        assert part.content == MEDIA[100:1124]
        assert upstream.to("127.0.0.1:8104")[-1].headers["range"] == "bytes=100-1123"
        whole = await http.get("/api/marketplace/v1/tips/t-1/media")
        assert whole.status_code == 200 and whole.content == MEDIA


async def test_a_bearer_client_calls_with_its_own_token(infra: Any, tmp_path: Path) -> None:
    from telesales_testkit.auth import auth_headers

    upstream = Upstream()
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        headers = auth_headers("supervisor", "wang-wu", team="team-a")
        answer = await http.get("/api/allocator/v1/leads/nothing", headers=headers)
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
        assert upstream.requests[-1].headers["authorization"] == headers["Authorization"]
        assert (await http.get("/api/allocator/v1/tiers")).status_code == 401  # no session, no token


async def test_unknown_services_and_services_that_do_not_answer(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream(down={"127.0.0.1:8103"}, slow={"127.0.0.1:8105"})
    upstream.agent("li-si")
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        await dev_login(http, "li-si")
        unknown = await http.get("/api/billing/v1/x")
        assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_service"
        down = await http.get("/api/ledger/v1/wallets/li-si")
        assert down.status_code == 502 and down.json()["code"] == "upstream_unavailable"
        assert down.headers["content-type"] == "application/problem+json"
        slow = await http.get("/api/metrics/v1/anything")
        assert slow.status_code == 504 and slow.json()["code"] == "upstream_timeout"


async def test_a_service_refusing_connections_for_real_is_a_502(infra: Any, tmp_path: Path) -> None:
    """No mock: the ledger's address has nothing listening."""
    from telesales_testkit.infra import free_port

    upstream = Upstream()
    upstream.agent("li-si")
    settings = console_settings(infra, tmp_path, ledger_url=f"http://127.0.0.1:{free_port()}")
    async with running_console(settings, upstream) as http:
        await dev_login(http, "li-si")
        app = http.app  # type: ignore[attr-defined]
        app.state.upstream_http = httpx.AsyncClient(timeout=5)  # the real network
        try:
            down = await http.get("/api/ledger/v1/wallets/li-si")
        finally:
            await app.state.upstream_http.aclose()
        assert down.status_code == 502, down.text
