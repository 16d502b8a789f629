"""tsctl, the operators' command line: against a mock transport (how answers and refusals are printed)
and against the real services, one round trip or more per service it touches."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from console_support import console_on_the_stack
from telesales_runtime.auth import Principal, TokenVerifier
from telesales_runtime.settings import ServiceSettings
from telesales_testkit.auth import auth_headers, mint_token
from telesales_testkit.harness import wait_until
from telesales_tools.floor import phone_of
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


# ---- erasures ------------------------------------------------------------------------------------------------

ERASED_BY_EVERY_SERVICE = ["allocator", "console", "lead-intake", "ledger", "marketplace", "metrics"]


def erasure_view(status: str, answered: list[str] = ERASED_BY_EVERY_SERVICE) -> dict[str, Any]:
    return {"request_id": "erasure-1", "status": status, "reason": "request", "note": "PD-7",
            "requested_by": {"sub": "privacy-desk", "roles": ["service"]}, "requested_at": "2026-12-07T05:00:00Z",
            "completed_at": None if status == "pending" else "2026-12-07T05:00:03Z", "lead_ids": ["L1"],
            "expected_services": ERASED_BY_EVERY_SERVICE,
            "services": {s: {"completed_at": "2026-12-07T05:00:02Z", "counts": {"leads": 1}} for s in answered}}


def test_an_erasure_request_echoes_the_person_masked_and_a_refusal_quoting_them_too() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if json.loads(request.content).get("email") == "wang.fang@example.com":
            return httpx.Response(202, json=erasure_view("pending", ["lead-intake"]))
        return httpx.Response(422, headers={"content-type": "application/problem+json"}, json={
            "type": "about:blank", "title": "Invalid phone", "status": 422,
            "detail": "'139 2468 13570' is not a valid phone number."})

    done = mocked(handler, "--role", "service", "--actor", "privacy-desk", "erasures", "request",
                  "--phone", "139 2468 1357", "--email", "wang.fang@example.com", "--reason", "PD-7")
    assert done.exit_code == 0, done.output
    assert "phone 139****1357 and email w**@example.com requested" in done.output
    assert "erasure-1" in done.output and "pending" in done.output and "1/6" in done.output
    assert "2468" not in done.output and "wang.fang" not in done.output
    assert json.loads(seen[-1].content) == {"phone": "139 2468 1357", "email": "wang.fang@example.com",
                                            "reason": "PD-7"}
    assert verified(seen[-1]) == Principal("privacy-desk", frozenset({"service"}), "default")

    refused = mocked(handler, "erasures", "request", "--phone", "139 2468 13570")
    assert refused.exit_code == 1 and "422" in refused.output and "not a valid phone number" in refused.output
    assert "2468" not in refused.output, refused.output
    nobody = mocked(handler, "erasures", "request", "--reason", "PD-8")
    assert nobody.exit_code == 1 and "--phone, --email or both" in nobody.output


def test_show_wait_reads_again_until_complete_and_exits_3_when_still_pending() -> None:
    reads: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        reads.append(request.url.path)
        return httpx.Response(200, json=erasure_view("complete" if len(reads) >= 3 else "pending", ["lead-intake"]
                                                     if len(reads) < 3 else ERASED_BY_EVERY_SERVICE))

    done = mocked(handler, "erasures", "show", "erasure-1", "--wait", "10")
    assert done.exit_code == 0, done.output
    assert reads == ["/v1/erasures/erasure-1"] * 3 and "complete" in done.output and "6/6" in done.output

    stuck = mocked(lambda request: httpx.Response(200, json=erasure_view("pending", ["lead-intake", "ledger"])),
                   "erasures", "show", "erasure-1", "--wait", "1.5")
    assert stuck.exit_code == 3, stuck.output
    assert "still pending after 1.5s: waiting for allocator, console, marketplace, metrics" in stuck.output


@pytest.fixture(scope="module")
async def console_app(infra: Any, allocator: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The console in-process, its consumers on the real broker: the sixth service an erasure waits for."""
    async with console_on_the_stack(infra, tmp_path_factory.mktemp("console"), allocator_url=allocator.base_url,
                                    group="console-tsctl") as http:
        yield http.app


async def test_the_privacy_desk_erases_a_person_with_tsctl(lead_intake: Any, allocator: Any, ledger: Any,
                                                           marketplace: Any, metrics: Any, console_app: Any,
                                                           infra: Any) -> None:
    tenant = f"tsctl-{uuid.uuid4().hex[:8]}"
    env = {"TELESALES_KAFKA_BOOTSTRAP": infra.kafka_bootstrap, "TELESALES_TENANT": tenant,
           "TELESALES_LEAD_INTAKE_URL": lead_intake.base_url}

    async def tsctl(*args: str, code: int = 0) -> str:
        result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    phone, email = phone_of(tenant, 5), f"li.na-{tenant}@example.com"
    national = phone[3:]
    desk = auth_headers("service", "web-form", tenant=tenant)
    async with httpx.AsyncClient(base_url=lead_intake.base_url, timeout=30) as http:
        sent = await http.post("/v1/leads", headers=desk, json={"name": "李娜", "phone": phone, "email": email,
                                                                 "business_line": "education"})
        assert sent.status_code == 202, sent.text

        async def qualified() -> Any:
            return (await http.get(sent.json()["status_url"], headers=desk)).json()["status"] == "qualified"
        await wait_until(qualified, what="lead-intake qualified the lead")

    as_desk = ("--role", "service", "--actor", "privacy-desk")
    asked = await tsctl(*as_desk, "erasures", "request", "--phone", national, "--email", email, "--reason", "PD-7")
    request_id = re.search(r"erasure-[0-9a-f]{32}", asked).group(0)  # type: ignore[union-attr]
    assert f"phone {national[:3]}****{national[-4:]} and email l**@example.com requested" in asked
    shown = await tsctl("erasures", "show", request_id, "--wait", "120")
    assert "complete" in shown and "6/6" in shown and "privacy-desk" in shown
    listed = json.loads(await tsctl("--json", "erasures", "list", "--limit", "5"))
    [item] = [i for i in listed["items"] if i["request_id"] == request_id]
    assert sorted(item["services"]) == ERASED_BY_EVERY_SERVICE and len(item["lead_ids"]) == 1
    unknown = await tsctl("erasures", "request", "--email", f"nobody-{tenant}@example.com")
    assert "nothing_found" in unknown
    for output in (asked, shown, json.dumps(listed), unknown):
        assert national not in output and email not in output

    agent = mint_token("li-si", "agent", tenant=tenant, team="mba")
    refused = await tsctl("--token", agent, "erasures", "request", "--phone", national, code=1)
    assert "403" in refused and national not in refused
    invalid = await tsctl(*as_desk, "erasures", "request", "--phone", "12", code=1)
    assert "422" in invalid and "not a valid phone number" in invalid
    missing = await tsctl("erasures", "show", "erasure-nope", code=1)
    assert "404" in missing
