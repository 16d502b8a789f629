"""tsctl, the operators' command line: against a mock transport (how answers and refusals are printed)
and against the real services, one round trip or more per service it touches."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from telesales_runtime.auth import Principal, TokenVerifier
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.auth import auth_headers
from telesales_testkit.harness import wait_until
from telesales_tools.platform import Endpoints
from telesales_tools.tsctl import Context, app

runner = CliRunner()
MOCK = Endpoints("127.0.0.1:1", {name: f"http://{name}.test" for name in
                                 ("lead-intake", "allocator", "ledger", "marketplace", "metrics")})


def mocked(handler: Any, *args: str) -> Any:
    context = Context(MOCK, "default", "ops", False, transport=httpx.MockTransport(handler))
    return runner.invoke(app, list(args), obj=context)


def test_a_refusal_is_printed_with_its_status_and_code_and_tsctl_exits_1() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(409, headers={"content-type": "application/problem+json"}, json={
            "type": "about:blank", "title": "Conflict", "status": 409, "code": "holding_cap_reached",
            "detail": "the agent holds 60 leads; the cap is 60"})

    result = mocked(handler, "--tenant", "acme", "--actor", "li-si", "pools", "claim", "li-si", "--count", "3")
    assert result.exit_code == 1
    assert "409" in result.output and "holding_cap_reached" in result.output and "the cap is 60" in result.output
    [request] = seen
    assert (request.url.host, request.url.path) == ("allocator.test", "/v1/agents/li-si/claims")
    assert request.headers["x-tenant-id"] == "acme"
    assert verified(request) == Principal("li-si", frozenset({"agent"}), "acme")  # the agent claims for itself
    assert json.loads(request.content) == {"tier_id": "fresh", "count": 3}


def verified(request: httpx.Request) -> Principal:
    """Who a request's bearer token names, verified as every service verifies it (local settings)."""
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return TokenVerifier(ServiceSettings()).verify(token)


def test_tsctl_signs_tokens_the_services_accept_or_sends_the_one_it_is_given() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    assert mocked(handler, "--tenant", "acme", "agents", "list").exit_code == 0
    assert verified(seen[-1]) == Principal("ops", frozenset({"operator"}), "acme")
    assert mocked(handler, "--actor", "wang", "--role", "supervisor", "agents", "list").exit_code == 0
    assert verified(seen[-1]) == Principal("wang", frozenset({"supervisor"}), "default")
    printed = runner.invoke(app, ["--tenant", "acme", "token", "--sub", "zhang-san", "--role", "agent",
                                  "--team", "mba"], obj=Context(MOCK, "default", "ops", False))
    assert printed.exit_code == 0, printed.output
    given = printed.output.strip()
    assert TokenVerifier(ServiceSettings()).verify(given) == Principal("zhang-san", frozenset({"agent"}), "acme", "mba")
    assert mocked(handler, "--token", given, "agents", "list").exit_code == 0
    assert seen[-1].headers["authorization"] == f"Bearer {given}"


def test_answers_print_as_tables_or_as_json() -> None:
    agents = {"items": [{"agent_id": "li-si", "name": "李四", "role": "agent", "team_id": "t1", "grade": "B",
                         "status": None, "worked_minutes_today": 0.0}], "next_cursor": None}
    table = mocked(lambda request: httpx.Response(200, json=agents), "agents", "list")
    assert table.exit_code == 0 and "li-si" in table.output and "李四" in table.output
    as_json = mocked(lambda request: httpx.Response(200, json=agents), "--json", "agents", "list")
    assert as_json.exit_code == 0 and json.loads(as_json.output) == agents


def test_a_service_that_does_not_answer_says_to_start_the_platform() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = mocked(handler, "coins", "balance", "li-si")
    assert result.exit_code == 1 and "make up" in result.output


def test_a_bad_tenant_is_refused_before_anything_is_sent() -> None:
    result = mocked(lambda request: httpx.Response(200, json={}), "--tenant", "Not A Tenant", "agents", "list")
    assert result.exit_code == 1 and "tenant" in result.output


async def test_an_operators_day_with_tsctl_against_the_services(
    lead_intake: Any, allocator: Any, ledger: Any, marketplace: Any, metrics: Any, infra: Any, tmp_path: Path,
) -> None:
    tenant = f"tsctl-{uuid.uuid4().hex[:8]}"
    env = {"TELESALES_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "TELESALES_TENANT": tenant,
           "TELESALES_LEAD_INTAKE_URL": lead_intake.base_url, "TELESALES_ALLOCATOR_URL": allocator.base_url,
           "TELESALES_LEDGER_URL": ledger.base_url, "TELESALES_MARKETPLACE_URL": marketplace.base_url,
           "TELESALES_METRICS_URL": metrics.base_url}

    async def tsctl(*args: str, code: int = 0) -> str:
        # in a thread: tsctl runs its own event loop while the services keep serving on this one
        result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    async def tsctl_json(*args: str) -> Any:
        return json.loads(await tsctl("--json", *args))

    headers = auth_headers("operator", "ops", tenant=tenant)
    as_li_si = auth_headers("agent", "li-si", tenant=tenant, team="mba")
    async with httpx.AsyncClient(timeout=30) as http:
        put = await http.put(f"{allocator.base_url}/v1/agents/li-si", headers=headers,
                             json={"name": "李四", "team_id": "mba", "business_line": "education"})
        assert put.status_code == 200, put.text

        # lead-intake: a CSV through its import route
        leads = tmp_path / "leads.csv"
        leads.write_text("name,phone,channel,business_line,product_interest,wechat\n"
                         "王芳,139 2468 0001,百度SEM,education,MBA,wf001\n"
                         "赵强,186 0431 0002,抖音,education,考研,\n", encoding="utf-8")
        imported = await tsctl_json("leads", "import", str(leads))
        assert (imported["rows"], imported["accepted"], imported["invalid"]) == (2, 2, 0)

        # allocator: the pool fills, an operator grades the agent, the agent claims
        async def pooled() -> Any:
            return len((await tsctl_json("pools", "leads", "education"))["items"]) == 2
        await wait_until(pooled)
        assert "B" in await tsctl("agents", "grade", "li-si", "b")
        assert "claimed 2 of 2" in await tsctl("--actor", "li-si", "pools", "claim", "li-si", "--count", "2")
        refused = await tsctl("pools", "claim", "li-si", code=1)  # the operator `ops` is not on the roster
        assert "403" in refused or "404" in refused

        # ledger: the budget and an allocation
        await tsctl("coins", "issue", "budget-1", "1000")
        assert "li-si" in await tsctl("coins", "allocate", "a-1", "200", "--user", "li-si")
        assert (await tsctl_json("coins", "balance", "li-si"))["wallet"] == 200

        # marketplace: a tip waits for review, a reviewer approves it
        tip = await http.post(f"{marketplace.base_url}/v1/tips", headers=as_li_si,
                              json={"id": "tip-1", "title": "开场白", "stage": "opening", "product_line": "education",
                                    "price": 20})
        assert tip.status_code == 201, tip.text
        await http.post(f"{marketplace.base_url}/v1/tips/tip-1/versions/1/submit",
                        headers=as_li_si)
        assert "tip-1" in await tsctl("tips", "queue")
        assert (await tsctl_json("--actor", "reviewer-1", "tips", "review", "tip-1"))["status"] == "approved"

    # metrics: the lead funnel of the tenant
    async def counted() -> Any:
        funnels = await tsctl_json("funnel", "leads", "pool")
        steps = {row["step"]: row["count"] for row in funnels["leads"].get("steps", [])}
        return steps.get("total") == 2 and funnels["pool"].get("claimed") == 2
    await wait_until(counted)
    assert "Lead funnel" in await tsctl("funnel", "leads")


def test_csv_columns_the_contract_reads_are_fields_and_the_others_attributes(tmp_path: Path) -> None:
    from telesales_tools.tsctl import read_rows
    leads = tmp_path / "leads.csv"
    leads.write_text("Phone,CRM-ID,utm_source\n13924681357,PX-1,baidu\n", encoding="utf-8")
    [row] = read_rows(leads, "csv")
    assert row == {"Phone": "13924681357", "CRM-ID": "PX-1", "attributes": {"utm_source": "baidu"}}
