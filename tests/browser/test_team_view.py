"""A supervisor's team view in Debian's Chromium against the real platform (issue 18): the measured weights
能力+平均 gives the team's agents (new agents at the floor, marked); the leads pushed to the team on arrival
that found nobody, with the reason in words, on the list and on the lead's own page; and the lead page
offering the holder's acts (stage, win, return, asking for the deal mark) to the holder only."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from browser_support import Platform, assert_accessible, new_context, screenshot, sign_in
from telesales_testkit.harness import wait_until
from telesales_tools.platform import Publisher, headers

OPERATOR = "browser-team-operator"
PUSH_POOL = "browser-push"
PRODUCT = "推送专线"  # only the lead this test publishes asks for it




async def allocator(platform: Platform, method: str, path: str, *, role: str = "operator", actor: str = OPERATOR,
                    team: str | None = None, **kwargs: Any) -> Any:
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        answer = await http.request(method, path, headers=headers(platform.tenant, actor, role, team), **kwargs)
        answer.raise_for_status()
        return answer.json()


@pytest.fixture
async def empty_team(platform: Platform) -> AsyncIterator[tuple[str, str]]:
    """A second team with a supervisor and no agents, whose pool pushes arrivals to it (so a push finds
    nobody); the tenant's routing is put back afterwards."""
    team, boss = f"{platform.run}-team-2", f"{platform.run}-sup-2"
    await allocator(platform, "PUT", f"/v1/agents/{boss}", json={
        "name": "吴主管", "role": "supervisor", "team_id": team, "business_line": "education"})
    await allocator(platform, "PUT", f"/v1/teams/{team}", json={"name": "在职研究生二组", "business_line": "education",
                                                                "supervisor_id": boss})
    before = (await allocator(platform, "GET", "/v1/config/routing"))["value"]
    await allocator(platform, "PUT", "/v1/config/routing", json=[*before, {
        "pool_id": PUSH_POOL, "business_line": "education", "product_interests": [PRODUCT], "priority": 1,
        "on_arrival": {"team_id": team, "strategy": "even_by_open"}}])
    yield team, boss
    await allocator(platform, "PUT", "/v1/config/routing", json=before)


async def test_the_team_view_shows_measured_weights_and_unplaced_leads(
        browser: Browser, platform: Platform, empty_team: tuple[str, str]) -> None:
    team, boss = empty_team
    phone = "+86137" + str(uuid.uuid4().int % 10**8).zfill(8)
    async with Publisher(platform.infra.kafka_bootstrap) as publisher:
        await publisher.publish("leads.received.v1", {
            "name": "孙立", "phone": phone, "channel": "百度SEM", "business_line": "education",
            "product_interest": PRODUCT, "region": "吉林长春", "behaviour": {"logins_7d": 3, "page_view_seconds": 300}},
            tenant=platform.tenant, source="/browser/landing", key=phone, event_id=f"{platform.run}-push-miss")

    async def missed() -> bool:
        page = await allocator(platform, "GET", f"/v1/teams/{team}/unplaced-leads")
        return page["total"] >= 1
    await wait_until(missed, 30.0, what="the push on arrival to an empty team left the lead in its pool")
    [item] = (await allocator(platform, "GET", f"/v1/teams/{team}/unplaced-leads"))["items"]
    assert item["push_missed"]["code"] == "no_eligible_agent"

    # The floor's supervisor: each agent's measured weight; nobody has 10 leads yet, so all weigh the floor.
    context = await new_context(browser, platform, bypass_csp=True)
    page = await context.new_page()
    await sign_in(page, platform.floor.supervisor_id)
    await page.get_by_role("menuitem", name="我的团队").click()
    await expect(page.get_by_role("heading", name=re.compile("^我的团队"))).to_be_visible()
    weights = page.get_by_role("table", name="能力权重（能力+平均）")
    for person in platform.floor.agents:
        await expect(weights.get_by_role("row").filter(has_text=person.agent_id)).to_contain_text("新坐席：按下限")
    await expect(page.get_by_text(re.compile(r"按近 28 天实测转化率.+少于 10 条的新坐席按下限 0.05"))).to_be_visible()
    expected = await allocator(platform, "GET", f"/v1/teams/{platform.floor.team_id}/ability-weights")
    for row in expected["agents"]:
        cells = weights.get_by_role("row").filter(has_text=row["agent_id"]).get_by_role("cell")
        await expect(cells.nth(1)).to_have_text(str(row["won"]))
        await expect(cells.nth(2)).to_have_text(str(row["received"]))
    await expect(page.get_by_role("table", name="未能推送的线索")).to_contain_text("没有未能推送的线索")
    await assert_accessible(page)
    await screenshot(page, "team-weights")
    await context.close()

    # The empty team's supervisor: the lead the push could not place, why, and its page says so too.
    context = await new_context(browser, platform, bypass_csp=True)
    page = await context.new_page()
    await sign_in(page, boss)
    await page.get_by_role("menuitem", name="我的团队").click()
    unplaced = page.get_by_role("table", name="未能推送的线索")
    row = unplaced.get_by_role("row").filter(has=page.get_by_role("link", name="孙**"))
    await expect(row).to_contain_text("没有可接收的坐席（不在岗、休息中、已达持有上限或评级不符）")
    await expect(row).to_contain_text(PUSH_POOL)
    await expect(page.get_by_text("共 1 条")).to_be_visible()
    await expect(page.get_by_role("table", name="能力权重（能力+平均）")).to_contain_text("团队暂无坐席")
    await assert_accessible(page)
    await screenshot(page, "team-unplaced")
    await row.get_by_role("link", name="孙**").click()
    await page.wait_for_url(re.compile(rf"/leads/{re.escape(item['lead_id'])}$"))
    await expect(page.get_by_test_id("push-missed")).to_contain_text(
        re.compile(r"到达时未能推送（\d{4}-\d\d-\d\d \d\d:\d\d）：没有可接收的坐席"))
    await expect(page.get_by_role("form", name="标记成交")).to_have_count(0)  # nobody holds it: nobody's acts
    await assert_accessible(page)
    await context.close()


async def test_the_lead_page_offers_the_holders_acts_to_the_holder_only(browser: Browser, platform: Platform) -> None:
    agent = platform.floor.agents[4]
    claimed = await allocator(platform, "POST", f"/v1/agents/{agent.agent_id}/claims", role="agent",
                              actor=agent.agent_id, team=platform.floor.team_id, json={"tier_id": "fresh", "count": 1})
    [lead] = claimed["leads"]
    acts = ("推进阶段", "标记成交", "退回线索")

    context = await new_context(browser, platform, bypass_csp=True)
    page = await context.new_page()
    await sign_in(page, agent.agent_id)
    await page.goto(f"/leads/{lead['lead_id']}")
    for name in acts:
        await expect(page.get_by_role("form", name=name)).to_be_visible()
    await expect(page.get_by_role("form", name="申请标记商机进行中")).to_be_visible()
    await context.close()

    # The team's supervisor reads the same page: the holder's forms are not offered, the lead still is.
    context = await new_context(browser, platform, bypass_csp=True)
    page = await context.new_page()
    await sign_in(page, platform.floor.supervisor_id)
    await page.goto(f"/leads/{lead['lead_id']}")
    await expect(page.get_by_test_id("deal-mark-state")).to_have_text("未申请")
    for name in (*acts, "申请标记商机进行中"):
        await expect(page.get_by_role("form", name=name)).to_have_count(0)
    for name in ("标记成交", "退回线索", "申请标记商机进行中"):
        await expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
    await assert_accessible(page)
    await screenshot(page, "lead-page-supervisor")
    await context.close()
