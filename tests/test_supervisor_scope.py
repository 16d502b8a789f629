"""A supervisor acts on and reads its own team only (telesales_runtime.scope), in every service.

Two teams, `ta` (supervisor sup-a, agent a1) and `tb` (supervisor sup-b, agent b1), are on every service's
roster, with a lead each agent holds, wallets, a coin allocation and reallocation requests. Every route a
supervisor may call (the ACCESS tables, read from the built applications, as tests/test_api_auth.py walks
them) must be classified here: a route that acts on or reads agents, teams or leads is called by sup-a
about team tb and must answer 403 problem+json (`outside_your_team`), and for a representative subset the
same request about team ta must succeed; a list shows team ta's only; every other route says why it is not
a team's. A new route nobody classified fails the walk.

The apps run in-process without their lifespans (no Kafka); their MongoDB is the stack's, in databases of
this test's own; the marketplace reaches the in-process metrics app, which knows the teams."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pymongo import AsyncMongoClient
from service_apps import access_table, routes, service_app

from allocator_support import qualified
from telesales_contracts.topics import AGENTS_CHANGED, AGENTS_STATUS_CHANGED, LEADS_QUALIFIED
from telesales_runtime.consumer import Delivery
from telesales_runtime.scope import OUTSIDE_YOUR_TEAM
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import cloudevent
from telesales_testkit.kafka import ConsumedRecord

PROBLEM = "application/problem+json"
TENANT = f"scope-{uuid.uuid4().hex[:8]}"
PEOPLE = {"sup-a": ("supervisor", "ta"), "a1": ("agent", "ta"), "sup-b": ("supervisor", "tb"), "b1": ("agent", "tb")}
SERVICES = ("lead-intake", "allocator", "ledger", "marketplace", "metrics", "console")
LEAD = {"a": "scope-lead-a", "b": "scope-lead-b", "pooled": "scope-lead-pooled", "pooled-2": "scope-lead-pooled-2"}
REQUEST = {"a": "req-a1", "b": "req-b1"}


def sup_a() -> dict[str, str]:
    return auth_headers("supervisor", "sup-a", tenant=TENANT, team="ta")


def admin() -> dict[str, str]:
    return auth_headers("admin", "root", tenant=TENANT)


# ---- the classification ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """Acts on or reads team tb's agents, teams or leads: refused. `own`: the same about team ta, allowed."""

    request: tuple[str, dict[str, Any] | None]
    own: tuple[str, dict[str, Any] | None] | None = None
    code: str = OUTSIDE_YOUR_TEAM
    more: tuple[tuple[str, dict[str, Any] | None], ...] = ()  # other ways round the rule, each refused


@dataclass(frozen=True)
class Lists:
    """Lists agents, teams or their records: answered with team ta's only (`request`'s JSON checked by
    `shows_only_team_a`)."""

    request: tuple[str, dict[str, Any] | None]
    shows_only_team_a: Callable[[Any], bool] = field(compare=False)


@dataclass(frozen=True)
class NotATeams:
    """Names no other agent, team or lead (the caller's own acts, the tenant's catalog or settings)."""

    why: str


SELF = NotATeams("the caller acts as itself (its own tips, purchases, learning, notifications)")
CATALOG = NotATeams("the tenant's tip catalog and its public figures")
SETTINGS = NotATeams("the tenant's settings, shared by every team")
TENANT_AGGREGATE = NotATeams("a tenant-wide aggregate with no team dimension")


def ids_of(items: Any, key: str) -> set[str]:
    return {item[key] for item in items}


RULES: dict[str, Reach | Lists | NotATeams] = {
    # allocator
    "allocator PATCH /v1/agents/{agent_id}": Reach(("/v1/agents/b1", {"grade": "A"}), own=("/v1/agents/a1", {"grade": "B"})),
    "allocator GET /v1/agents/{agent_id}": Reach(("/v1/agents/b1", None), own=("/v1/agents/a1", None)),
    "allocator GET /v1/agents": Reach(("/v1/agents?team_id=tb", None), own=("/v1/agents?team_id=ta", None)),
    "allocator GET /v1/teams": Lists(("/v1/teams", None), lambda body: ids_of(body, "team_id") == {"ta"}),
    "allocator GET /v1/teams/{team_id}": Reach(("/v1/teams/tb", None), own=("/v1/teams/ta", None)),
    "allocator GET /v1/config/{kind}": SETTINGS,
    "allocator GET /v1/tiers": Reach(("/v1/tiers?agent_id=b1", None), own=("/v1/tiers?agent_id=a1", None)),
    "allocator GET /v1/pools/{pool_id}/leads": NotATeams("the public pool: pooled leads are the tenant's, masked"),
    "allocator POST /v1/agents/{agent_id}/claims": Reach(("/v1/agents/b1/claims", {"tier_id": "fresh", "count": 1})),
    "allocator GET /v1/agents/{agent_id}/leads": Reach(("/v1/agents/b1/leads", None), own=("/v1/agents/a1/leads", None)),
    "allocator GET /v1/leads/{lead_id}": Reach((f"/v1/leads/{LEAD['b']}", None), own=(f"/v1/leads/{LEAD['a']}", None)),
    "allocator GET /v1/leads/{lead_id}/history": Reach((f"/v1/leads/{LEAD['b']}/history", None),
                                                       own=(f"/v1/leads/{LEAD['a']}/history", None)),
    "allocator POST /v1/leads/{lead_id}/return": Reach((f"/v1/leads/{LEAD['b']}/return",
                                                        {"agent_id": "b1", "reason": "no_answer"})),
    "allocator POST /v1/leads/{lead_id}/close": Reach((f"/v1/leads/{LEAD['b']}/close", {"agent_id": "b1", "reason": "x"})),
    "allocator POST /v1/leads/{lead_id}/win": Reach((f"/v1/leads/{LEAD['b']}/win", {"agent_id": "b1", "amount_fen": 100})),
    "allocator POST /v1/leads/{lead_id}/win/confirmation": Reach(  # the winner's (here: the holder's) team only
        (f"/v1/leads/{LEAD['b']}/win/confirmation", {"order_ref": "SO-forged"})),
    "allocator POST /v1/leads/{lead_id}/win/rejection": Reach(  # the winner's (here: the holder's) team only
        (f"/v1/leads/{LEAD['b']}/win/rejection", {"reason": "rejected from another team"})),
    "allocator POST /v1/leads/{lead_id}/stage": Reach(
        (f"/v1/leads/{LEAD['b']}/stage", {"stage_percent": 30}), own=(f"/v1/leads/{LEAD['a']}/stage", {"stage_percent": 30}),
        more=((f"/v1/leads/{LEAD['b']}/stage", {"stage_percent": 30, "agent_id": "b1"}),)),
    "allocator POST /v1/leads/{lead_id}/deal-mark": Reach((f"/v1/leads/{LEAD['b']}/deal-mark", {"agent_id": "b1"})),
    "allocator POST /v1/leads/{lead_id}/deal-mark/decision": Reach(
        (f"/v1/leads/{LEAD['b']}/deal-mark/decision", {"request_id": "any", "decision": "approved"})),
    "allocator POST /v1/leads/{lead_id}/dial": Reach((f"/v1/leads/{LEAD['b']}/dial", {"agent_id": "b1"}),
                                                     own=(f"/v1/leads/{LEAD['a']}/dial", {"agent_id": "a1"})),
    "allocator POST /v1/distributions": Reach(
        ("/v1/distributions", {"lead_ids": [LEAD["pooled"]], "team_id": "tb", "strategy": "supervisor",
                               "target_agent": "b1"}),  # the walk-around issue 18 reported
        more=(("/v1/distributions", {"lead_ids": [LEAD["pooled"]], "team_id": "tb"}),
              ("/v1/distributions", {"lead_ids": [LEAD["pooled"]], "team_id": "ta", "strategy": "supervisor",
                                     "target_agent": "b1"}),
              ("/v1/distributions", {"lead_ids": [LEAD["pooled"]], "strategy": "supervisor", "target_agent": "b1"}))),
    "allocator GET /v1/teams/{team_id}/ability-weights": Reach(("/v1/teams/tb/ability-weights", None),
                                                                own=("/v1/teams/ta/ability-weights", None)),
    "allocator GET /v1/teams/{team_id}/deal-marks": Reach(("/v1/teams/tb/deal-marks?state=requested", None),
                                                          own=("/v1/teams/ta/deal-marks?state=requested", None)),
    "allocator GET /v1/teams/{team_id}/unplaced-leads": Reach(("/v1/teams/tb/unplaced-leads", None),
                                                              own=("/v1/teams/ta/unplaced-leads", None)),
    "allocator GET /v1/agents/{agent_id}/applications": Reach(("/v1/agents/b1/applications", None),
                                                              own=("/v1/agents/a1/applications", None)),
    "allocator GET /v1/reports/fairness": NotATeams("leads and conversions per grade over the tenant: no agent or team"),
    # ledger
    "ledger GET /v1/accounts/{account}": Reach(("/v1/accounts/wallet:b1", None), own=("/v1/accounts/wallet:a1", None)),
    "ledger GET /v1/accounts/{account}/statement": Reach(("/v1/accounts/earnings:b1/statement", None),
                                                         own=("/v1/accounts/wallet:a1/statement", None)),
    "ledger GET /v1/accounts/{account}/statement.csv": Reach(("/v1/accounts/wallet:b1/statement.csv", None),
                                                             own=("/v1/accounts/wallet:a1/statement.csv", None)),
    "ledger GET /v1/users/{user_id}": Reach(("/v1/users/b1", None), own=("/v1/users/a1", None)),
    "ledger GET /v1/allocations/{allocation_id}": Lists(
        ("/v1/allocations/al-scope", None), lambda body: ids_of(body["allocated"], "user_id") == {"a1"}
        and body["total"] == body["amount"]),
    "ledger POST /v1/reallocation-requests": Reach(("/v1/reallocation-requests", {"user_id": "b1", "reason": "again"})),
    "ledger GET /v1/reallocation-requests": Lists(("/v1/reallocation-requests", None),
                                                  lambda body: ids_of(body, "user_id") == {"a1"}),
    "ledger GET /v1/reallocation-requests/{request_id}": Reach((f"/v1/reallocation-requests/{REQUEST['b']}", None),
                                                               own=(f"/v1/reallocation-requests/{REQUEST['a']}", None)),
    "ledger POST /v1/reallocation-requests/{request_id}/approve": Reach(
        (f"/v1/reallocation-requests/{REQUEST['b']}/approve", None)),
    "ledger POST /v1/reallocation-requests/{request_id}/reject": Reach(
        (f"/v1/reallocation-requests/{REQUEST['b']}/reject", None)),
    "ledger GET /v1/blind-boxes/{draw_id}": NotATeams("a blind-box draw is announced to the whole floor (盲盒)"),
    "ledger GET /v1/blind-boxes/{draw_id}/replay": NotATeams("a blind-box draw is announced to the whole floor (盲盒)"),
    "ledger GET /v1/reports/top-sellers": NotATeams("the tenant's leaderboard of tip sellers, shown to the floor"),
    "ledger GET /v1/config/policy": SETTINGS,
    # metrics
    "metrics GET /v1/funnels/leads": Reach(("/v1/funnels/leads?team=tb", None), own=("/v1/funnels/leads?team=ta", None)),
    "metrics GET /v1/funnels/calls": Reach(("/v1/funnels/calls?team=tb", None), own=("/v1/funnels/calls?by=team", None)),
    "metrics GET /v1/funnels/pool": Reach(("/v1/funnels/pool?team=tb", None), own=("/v1/funnels/pool", None)),
    "metrics GET /v1/funnels/marketplace": TENANT_AGGREGATE,
    "metrics GET /v1/funnels/tips": TENANT_AGGREGATE,
    "metrics GET /v1/funnels/training": TENANT_AGGREGATE,
    "metrics GET /v1/agents/{agent_id}/indicators": Reach(("/v1/agents/b1/indicators", None),
                                                          own=("/v1/agents/a1/indicators", None)),
    # marketplace
    "marketplace GET /v1/learners/{user_id}": Reach(("/v1/learners/b1", None), own=("/v1/learners/a1", None)),
    "marketplace GET /v1/sellers/{seller_id}/sales": Reach(("/v1/sellers/b1/sales", None),
                                                           own=("/v1/sellers/a1/sales", None)),
    "marketplace POST /v1/agents/{agent_id}/struggle": Reach(("/v1/agents/b1/struggle", None)),
    "marketplace GET /v1/agents/{agent_id}/recommendations/latest": Reach(("/v1/agents/b1/recommendations/latest",
                                                                           None)),
    "marketplace POST /v1/tips/{tip_id}/forwards": Reach(("/v1/tips/tip-1/forwards", {"to_user_id": "b1"})),
    "marketplace POST /v1/sellers/{seller_id}/redemptions": Reach(("/v1/sellers/b1/redemptions", {"id": "r-1", "yuan": 1}),
                                                                  code="not_seller"),  # nobody redeems for a seller
    "marketplace GET /v1/sellers/{seller_id}": CATALOG,
    "marketplace GET /v1/review-checklist": CATALOG,
    "marketplace GET /v1/tips": CATALOG,
    "marketplace GET /v1/tips/{tip_id}": CATALOG,
    "marketplace GET /v1/tips/{tip_id}/ratings": CATALOG,
    "marketplace GET /v1/tips/{tip_id}/funnel": CATALOG,
    **{f"marketplace {route}": SELF for route in (
        "POST /v1/tips", "GET /v1/tips/{tip_id}/versions", "GET /v1/tips/{tip_id}/versions/{version}",
        "GET /v1/tips/{tip_id}/content", "PATCH /v1/tips/{tip_id}/versions/{version}", "POST /v1/tips/{tip_id}/versions",
        "POST /v1/tips/{tip_id}/versions/{version}/submit", "POST /v1/tips/{tip_id}/delist",
        "PUT /v1/tips/{tip_id}/versions/{version}/media", "GET /v1/tips/{tip_id}/media",
        "GET /v1/tips/{tip_id}/versions/{version}/media", "POST /v1/tips/{tip_id}/purchases",
        "GET /v1/tips/{tip_id}/purchases/mine", "POST /v1/tips/{tip_id}/visits", "POST /v1/tips/{tip_id}/learning",
        "POST /v1/tips/{tip_id}/ratings")},
    # lead-intake: its record of a lead knows no holder or team (who works a lead is the allocator's, scoped there)
    "lead-intake GET /v1/leads/{lead_id}": NotATeams("lead-intake's lead (masked) has no holder or team"),
    "lead-intake GET /v1/leads": NotATeams("lead-intake's leads (masked) have no holder or team"),
    "lead-intake GET /v1/do-not-call/{phone}": NotATeams("whether a number may be called: the tenant's list"),
    "lead-intake GET /v1/scoring/weights": SETTINGS,
    "lead-intake GET /v1/scoring/models": SETTINGS,
    "lead-intake GET /v1/config/consent": SETTINGS,
    # console: its own routes act for the caller; /api/... calls a service with the caller's token, and the
    # service decides (walked above)
    "console GET /v1/session": SELF,
    "console POST /v1/calls": SELF,
    **{f"console {method} /api/{{service}}/{{path}}": NotATeams("the called service applies its own scope")
       for method in ("GET", "POST", "PUT", "PATCH", "DELETE")},
    **{f"console {route}": SELF for route in (
        "GET /v1/notifications/stream", "GET /v1/notifications", "POST /v1/notifications/{seq}/read",
        "POST /v1/notifications:read-all")},
}


# ---- the applications and their data ---------------------------------------------------------------------


def client(app: FastAPI, name: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")


def event(topic: str, data: dict[str, Any]) -> bytes:
    return cloudevent(topic, TENANT, data, event_id=str(uuid.uuid4()), time=datetime.now(UTC).isoformat())


def roster_events() -> list[bytes]:
    return [event(AGENTS_CHANGED.name, {"agent_id": person, "name": person, "role": role, "team_id": team,
                                        "business_line": "education"}) for person, (role, team) in PEOPLE.items()]


async def seed_allocator(app: FastAPI) -> None:
    await app.state.store.ensure_indexes()
    async with client(app, "allocator") as http:
        for team in ("ta", "tb"):
            put = await http.put(f"/v1/teams/{team}", headers=admin(), json={"name": team, "business_line": "education"})
            assert put.status_code == 200, put.text
        for person, (role, team) in PEOPLE.items():
            put = await http.put(f"/v1/agents/{person}", headers=admin(),
                                 json={"name": person, "role": role, "team_id": team, "business_line": "education"})
            assert put.status_code == 200, put.text
        # pushes reach agents at work only: the dialer says both agents are logged in
        await app.state.roster.handle_status([
            Delivery(AGENTS_STATUS_CHANGED.parse(event(AGENTS_STATUS_CHANGED.name, {
                "agent_id": agent, "status": "logged_in", "at": datetime.now(UTC).isoformat()})), None)
            for agent in ("a1", "b1")])
        await app.state.leads.handle_qualified([
            Delivery(LEADS_QUALIFIED.parse(event(LEADS_QUALIFIED.name, qualified(lead_id))), None)
            for lead_id in LEAD.values()])
        for side, agent, team in (("a", "a1", "ta"), ("b", "b1", "tb")):
            pushed = await http.post("/v1/distributions", headers=admin(), json={
                "lead_ids": [LEAD[side]], "team_id": team, "strategy": "supervisor", "target_agent": agent})
            assert [p["agent_id"] for p in pushed.json()["placed"]] == [agent], pushed.text


async def seed_ledger(app: FastAPI) -> None:
    from ledger.domain.learning import LearningTotals
    from ledger.domain.policy import Qualification, ReallocationPolicy
    from ledger.domain.reallocation import open_request
    from ledger.store.documents import scoped_doc

    await app.state.store.ensure_indexes()
    await app.state.ledger.handle_agents_changed(
        deliveries=[Delivery(AGENTS_CHANGED.parse(raw), None) for raw in roster_events()])
    async with client(app, "ledger") as http:
        issued = await http.post("/v1/issues", headers=admin(), json={"id": "issue-scope", "amount": 1000})
        assert issued.status_code == 201, issued.text
        allocated = await http.post("/v1/allocations", headers=admin(),
                                    json={"id": "al-scope", "amount": 10, "user_ids": ["a1", "b1"]})
        assert allocated.status_code == 201 and len(allocated.json()["allocated"]) == 2, allocated.text
    # as a reclaim leaves them: the user asked for coins again, and the request waits for its supervisor
    policy = ReallocationPolicy(qualification=Qualification(min_learning_minutes=0))
    for side, user, team in (("a", "a1", "ta"), ("b", "b1", "tb")):
        record, _ = open_request(request_id=REQUEST[side], user_id=user, team_id=team, reason="again", actor=user,
                                 now=datetime.now(UTC), wallet_record={"allocation_blocked": True},
                                 learned=LearningTotals(), policy=policy, approvers={})
        await app.state.store.requests.insert_one(scoped_doc(TENANT, REQUEST[side], record))


async def seed_metrics(app: FastAPI) -> None:
    from metrics.events import READINGS

    reading = {r.name: r for r in READINGS}[AGENTS_CHANGED.name]
    await app.state.store.ensure_indexes()
    await app.state.metrics.handle([Delivery(reading.parse(raw), ConsumedRecord(AGENTS_CHANGED.name, raw))
                                    for raw in roster_events()])


class InProcess(httpx.AsyncBaseTransport):
    """The console's way to the services: each base URL to its in-process app."""

    def __init__(self, apps: dict[str, FastAPI], upstreams: dict[str, str]) -> None:
        self.by_netloc = {httpx.URL(url).netloc: httpx.ASGITransport(app=apps[name]) for name, url in upstreams.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.by_netloc[request.url.netloc].handle_async_request(request)


@pytest.fixture(scope="module")
async def apps(infra: Any) -> AsyncIterator[dict[str, FastAPI]]:
    databases = {name: f"test_scope_{name.replace('-', '_')}_{uuid.uuid4().hex[:8]}" for name in SERVICES}
    built = {name: service_app(name, infra, databases[name]) for name in ("lead-intake", "allocator", "ledger", "metrics")}
    built["marketplace"] = service_app("marketplace", infra, databases["marketplace"],
                                  metrics_transport=httpx.ASGITransport(app=built["metrics"]))
    from console.settings import ConsoleSettings

    upstreams = ConsoleSettings().upstreams
    built["console"] = service_app("console", infra, databases["console"], upstream_transport=InProcess(built, upstreams))
    await seed_allocator(built["allocator"])
    await seed_ledger(built["ledger"])
    await seed_metrics(built["metrics"])
    await built["marketplace"].state.store.ensure_indexes()
    yield built
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongo_uri)
    for database in databases.values():
        await mongo.drop_database(database)
    await mongo.close()


def supervisor_routes(app: FastAPI) -> set[str]:
    """METHOD /path of every route of the app's OpenAPI a supervisor may call (as test_api_auth walks them)."""
    access = access_table(app)
    return {key for key in (f"{method} {path}" for method, path in routes(app)) if "supervisor" in access[key]}


def refused(response: httpx.Response, code: str) -> bool:
    return (response.status_code == 403 and response.headers.get("content-type") == PROBLEM
            and response.json().get("code") == code)


async def send(http: httpx.AsyncClient, method: str, request: tuple[str, dict[str, Any] | None]) -> httpx.Response:
    path, body = request
    return await http.request(method, path, headers=sup_a(), json=body if method != "GET" else None)


# ---- the walk ------------------------------------------------------------------------------------------


async def test_every_route_a_supervisor_may_call_has_a_scope_decision(apps: dict[str, FastAPI]) -> None:
    walked = {f"{name} {route}" for name, app in apps.items() for route in supervisor_routes(app)}
    assert walked - set(RULES) == set(), "routes without a scope decision: classify them in RULES"
    assert set(RULES) - walked == set(), "RULES names routes supervisors cannot call (or that do not exist)"


@pytest.mark.parametrize("name", SERVICES)
async def test_a_supervisor_of_another_team_is_refused_everywhere(apps: dict[str, FastAPI], name: str) -> None:
    rules = {key.split(" ", 1)[1]: rule for key, rule in RULES.items() if key.split(" ", 1)[0] == name}
    async with client(apps[name], name) as http:
        for route, rule in sorted(rules.items()):
            method = route.split(" ", 1)[0]
            if isinstance(rule, Reach):
                for request in (rule.request, *rule.more):
                    answer = await send(http, method, request)
                    assert refused(answer, rule.code), (route, request, answer.status_code, answer.text)
            elif isinstance(rule, Lists):
                answer = await send(http, method, rule.request)
                assert answer.status_code == 200 and rule.shows_only_team_a(answer.json()), (route, answer.text)


@pytest.mark.parametrize("name", SERVICES)
async def test_the_supervisor_of_the_team_still_succeeds(apps: dict[str, FastAPI], name: str) -> None:
    rules = {key.split(" ", 1)[1]: rule for key, rule in RULES.items() if key.split(" ", 1)[0] == name}
    async with client(apps[name], name) as http:
        for route, rule in sorted(rules.items()):
            if isinstance(rule, Reach) and rule.own is not None:
                answer = await send(http, route.split(" ", 1)[0], rule.own)
                assert answer.status_code == 200, (route, rule.own, answer.status_code, answer.text)


async def test_the_distribution_of_the_issue_is_refused_and_the_lead_stays_pooled(apps: dict[str, FastAPI]) -> None:
    allocator = apps["allocator"]
    async with client(allocator, "allocator") as http:
        across = await http.post("/v1/distributions", headers=sup_a(), json={
            "lead_ids": [LEAD["pooled"]], "team_id": "tb", "strategy": "supervisor", "target_agent": "b1"})
        assert refused(across, OUTSIDE_YOUR_TEAM), across.text
        lead = await http.get(f"/v1/leads/{LEAD['pooled']}", headers=admin())
        assert (lead.json()["status"], lead.json()["holder"]) == ("pooled", None)
        # Without a team the leads route among sup-a's teams only; to its own agent they go.
        routed = await http.post("/v1/distributions", headers=sup_a(), json={
            "lead_ids": [LEAD["pooled"]], "strategy": "supervisor", "target_agent": "a1"})
        assert routed.status_code == 200, routed.text
        assert [(p["team_id"], p["agent_id"]) for p in routed.json()["placed"]] == [("ta", "a1")]
        # Both teams' routes match; unrestricted, team ta (first by id) would get it from sup-b.
        sup_b = auth_headers("supervisor", "sup-b", tenant=TENANT, team="tb")
        by_need = await http.post("/v1/distributions", headers=sup_b, json={"lead_ids": [LEAD["pooled-2"]]})
        assert by_need.status_code == 200, by_need.text
        assert [(p["team_id"], p["agent_id"]) for p in by_need.json()["placed"]] == [("tb", "b1")]


async def test_lists_show_a_supervisor_its_own_team_and_a_token_without_team_uses_the_roster(
        apps: dict[str, FastAPI]) -> None:
    roster_only = auth_headers("supervisor", "sup-a", tenant=TENANT)  # no team claim: the roster's team
    async with client(apps["allocator"], "allocator") as http:
        agents = await http.get("/v1/agents", headers=sup_a())
        assert ids_of(agents.json()["items"], "agent_id") == {"sup-a", "a1"}, agents.text
        assert (await http.get("/v1/agents", headers=roster_only)).json() == agents.json()
        assert refused(await http.get("/v1/agents/b1", headers=roster_only), OUTSIDE_YOUR_TEAM)
        assert (await http.get("/v1/agents/a1", headers=roster_only)).status_code == 200
        operator = await http.get("/v1/agents", headers=auth_headers("operator", "ops", tenant=TENANT))
        assert ids_of(operator.json()["items"], "agent_id") == set(PEOPLE)  # operators keep the whole roster
    async with client(apps["ledger"], "ledger") as http:
        assert refused(await http.get("/v1/users/b1", headers=roster_only), OUTSIDE_YOUR_TEAM)
        assert (await http.get("/v1/users/a1", headers=roster_only)).status_code == 200
    async with client(apps["metrics"], "metrics") as http:
        assert refused(await http.get("/v1/agents/b1/indicators", headers=roster_only), OUTSIDE_YOUR_TEAM)
    async with client(apps["marketplace"], "marketplace") as http:
        assert refused(await http.get("/v1/learners/b1", headers=roster_only), OUTSIDE_YOUR_TEAM)
        assert (await http.get("/v1/learners/a1", headers=roster_only)).status_code == 200


async def test_through_the_console_a_supervisor_meets_the_same_refusals(apps: dict[str, FastAPI]) -> None:
    async with client(apps["console"], "console") as http:
        theirs = await http.get("/api/allocator/v1/agents/b1", headers=sup_a())
        assert refused(theirs, OUTSIDE_YOUR_TEAM), theirs.text
        across = await http.post("/api/allocator/v1/distributions", headers=sup_a(), json={
            "lead_ids": [LEAD["pooled"]], "team_id": "tb", "strategy": "supervisor", "target_agent": "b1"})
        assert refused(across, OUTSIDE_YOUR_TEAM), across.text
        assert refused(await http.get("/api/ledger/v1/users/b1", headers=sup_a()), OUTSIDE_YOUR_TEAM)
        own = await http.get("/api/allocator/v1/agents/a1", headers=sup_a())
        assert own.status_code == 200 and own.json()["team_id"] == "ta", own.text


def test_every_reach_names_a_route_of_its_rule() -> None:
    """Each Reach's request fits its route's template (a typo would walk another route)."""
    for key, rule in RULES.items():
        if not isinstance(rule, Reach):
            continue
        template = re.escape(key.split(" ", 2)[2])
        pattern = re.sub(r"\\\{\w+\\\}", "[^/?]+", template) + r"(\?.*)?$"
        for path, _ in (rule.request, *rule.more, *([rule.own] if rule.own else [])):
            assert re.match(pattern, path), (key, path)
