"""Sessions end to end on the real database and broker: development sign-in from the roster, the cookie,
GET /v1/session, CSRF, sign-out, expiry, and production refusing the development sign-in."""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from console_support import Upstream, console_settings, dev_login, principal_of, running_console, with_cookie


async def test_dev_login_sets_a_safe_cookie_and_a_session(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si", name="李四", team="team-a")
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        answer = await http.post("/auth/dev-login", json={"agent_id": "li-si"})
        assert answer.status_code == 200, answer.text
        cookie = SimpleCookie(answer.headers["set-cookie"])["ts_session"]
        assert cookie["httponly"] and cookie["samesite"].lower() == "lax" and cookie["path"] == "/"
        assert not cookie["secure"]  # local stack: plain HTTP
        assert len(cookie.value) >= 40
        # The roster was read with the console's service token, in the tenant asked for.
        roster_read = upstream.to("127.0.0.1:8102")[-1]
        assert principal_of(roster_read.headers["authorization"]).has("service")
        assert roster_read.headers["x-tenant-id"] == "default"

        session = (await http.get("/v1/session")).json()
        assert session["user"] == {"sub": "li-si", "name": "李四", "roles": ["agent"], "tenant": "default",
                                   "team": "team-a"}
        assert session["csrf_token"] and session["expires_at"]
        assert answer.json() == session

        # No token in the browser: the session's token is only what the console sends upstream.
        assert "eyJ" not in answer.text


async def test_a_manager_signs_in_as_supervisor_and_sign_in_rotates_the_id(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("zhao-liu", role="manager", team=None, name="赵六")
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        first = await dev_login(http, "zhao-liu")
        old_id = http.cookies["ts_session"]
        assert first["user"]["roles"] == ["supervisor"]
        again = await http.post("/auth/dev-login", json={"agent_id": "zhao-liu"},
                                headers={"X-CSRF-Token": first["csrf_token"]})
        assert again.status_code == 200, again.text
        new_id = http.cookies["ts_session"]
        assert new_id != old_id
        stale = await with_cookie(http, old_id, "/v1/session")
        assert stale.status_code == 401  # the id held before sign-in no longer works


async def test_dev_login_refusals(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("gone", active=False)
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        unknown = await http.post("/auth/dev-login", json={"agent_id": "nobody"})
        assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_agent"
        assert unknown.headers["content-type"] == "application/problem+json"
        inactive = await http.post("/auth/dev-login", json={"agent_id": "gone"})
        assert inactive.status_code == 403 and inactive.json()["code"] == "agent_inactive"
        bad_tenant = await http.post("/auth/dev-login", json={"agent_id": "gone", "tenant": "Not A Tenant"})
        assert bad_tenant.status_code == 422
        cross_site = await http.post("/auth/dev-login", json={"agent_id": "gone"},
                                     headers={"Origin": "https://evil.example"})
        assert cross_site.status_code == 403 and cross_site.json()["code"] == "csrf"  # login CSRF
        assert "ts_session" not in http.cookies
        assert (await http.get("/v1/session")).status_code == 401


async def test_back_office_staff_named_in_the_settings_sign_in_without_a_roster_record(infra: Any,
                                                                                      tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    settings = console_settings(infra, tmp_path, dev_staff={"op-1": "operator", "audit-1": "auditor"})
    async with running_console(settings, upstream) as http:
        operator = await dev_login(http, "op-1", tenant="acme")
        assert operator["user"] == {"sub": "op-1", "name": "op-1", "roles": ["operator"], "tenant": "acme",
                                    "team": None}
        assert not upstream.requests  # staff are not looked up on the floor's roster
        auditor = await http.post("/auth/dev-login", json={"agent_id": "audit-1"})
        assert auditor.json()["user"]["roles"] == ["auditor"]
        # Everyone else still needs an active roster record: the staff list grants no one else a role.
        unknown = await http.post("/auth/dev-login", json={"agent_id": "op-2"})
        assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_agent"
        assert (await dev_login(http, "li-si"))["user"]["roles"] == ["agent"]
    with pytest.raises(ValidationError, match="CONSOLE_DEV_STAFF"):
        console_settings(infra, tmp_path, auth_mode="production", session_cookie_secure=True,
                         oidc_issuer="http://127.0.0.1:9/idp", oidc_client_id="console",
                         auth_hs256_secret="a-production-secret-of-at-least-32-characters",
                         dev_staff={"op-1": "operator"})
    with pytest.raises(ValidationError):
        console_settings(infra, tmp_path, dev_staff={"op-1": "admin"})  # only operators and auditors


async def test_production_refuses_the_dev_login(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    settings = console_settings(infra, tmp_path, auth_mode="production", session_cookie_secure=True,
                                oidc_issuer="http://127.0.0.1:9/idp", oidc_client_id="console",
                                auth_hs256_secret="a-production-secret-of-at-least-32-characters")
    async with running_console(settings, upstream) as http:
        answer = await http.post("/auth/dev-login", json={"agent_id": "li-si"})
        assert answer.status_code == 404
        assert answer.headers["content-type"] == "application/problem+json"
        assert "set-cookie" not in answer.headers
        assert not upstream.requests  # the roster was not even read


async def test_csrf_on_unsafe_cookie_requests(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    upstream.leads["L-1"] = {"lead_id": "L-1", "holder": "li-si"}
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        session = await dev_login(http, "li-si")
        no_token = await http.post("/api/allocator/v1/echo", json={})
        assert no_token.status_code == 403 and no_token.json()["code"] == "csrf"
        wrong_token = await http.post("/api/allocator/v1/echo", json={}, headers={"X-CSRF-Token": "guess"})
        assert wrong_token.status_code == 403 and wrong_token.json()["code"] == "csrf"
        other_site = await http.post("/api/allocator/v1/echo", json={},
                                     headers={"X-CSRF-Token": session["csrf_token"], "Origin": "https://evil.example"})
        assert other_site.status_code == 403 and other_site.json()["code"] == "csrf"
        assert not upstream.to("127.0.0.1:8102")[1:]  # nothing refused reached the service
        accepted = await http.post("/api/allocator/v1/echo", json={},
                                   headers={"X-CSRF-Token": session["csrf_token"], "Origin": "http://console.test"})
        assert accepted.status_code == 201, accepted.text
        # Safe methods need no token.
        assert (await http.get("/v1/session")).status_code == 200
        # A bearer client (no cookie involved) is not subject to CSRF.
        token = upstream.to("127.0.0.1:8102")[-1].headers["authorization"]
        http.cookies.clear()
        bearer = await http.post("/api/allocator/v1/echo", json={}, headers={"Authorization": token})
        assert bearer.status_code == 201, bearer.text


async def test_logout_ends_the_session(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        session = await dev_login(http, "li-si")
        session_id = http.cookies["ts_session"]
        refused = await http.post("/auth/logout")
        assert refused.status_code == 403  # sign-out is an unsafe request too
        answer = await http.post("/auth/logout", headers={"X-CSRF-Token": session["csrf_token"]})
        assert answer.status_code == 204
        assert 'ts_session=""' in answer.headers["set-cookie"] or "Max-Age=0" in answer.headers["set-cookie"]
        assert (await with_cookie(http, session_id, "/v1/session")).status_code == 401


async def test_sessions_expire_when_idle_and_at_their_end(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    settings = console_settings(infra, tmp_path, session_hours=10, session_idle_minutes=120)
    async with running_console(settings, upstream) as http:
        sessions = http.app.state.sessions  # type: ignore[attr-defined]
        real_clock = sessions.clock
        await dev_login(http, "li-si")
        try:
            sessions.clock = lambda: real_clock() + timedelta(minutes=100)
            assert (await http.get("/v1/session")).status_code == 200  # used: the idle time starts again
            sessions.clock = lambda: real_clock() + timedelta(minutes=210)
            assert (await http.get("/v1/session")).status_code == 200
            sessions.clock = lambda: real_clock() + timedelta(minutes=331)
            idle = await http.get("/v1/session")
            assert idle.status_code == 401, idle.text  # unused for two hours
        finally:
            sessions.clock = real_clock

        await dev_login(http, "li-si")
        try:
            for minutes in (100, 200, 300, 400, 500, 590):  # in use all day long
                sessions.clock = lambda m=minutes: real_clock() + timedelta(minutes=m)
                assert (await http.get("/v1/session")).status_code == 200, minutes
            sessions.clock = lambda: real_clock() + timedelta(hours=10, minutes=1)
            assert (await http.get("/v1/session")).status_code == 401  # a working day is over
        finally:
            sessions.clock = real_clock
        doc = await sessions.store.sessions.find_one({})
        indexes = await sessions.store.sessions.index_information()
        assert indexes["ttl_ends_at"]["expireAfterSeconds"] == 0 and doc is not None
        assert http.cookies["ts_session"] not in str(doc)  # the database keeps a hash of the id only
