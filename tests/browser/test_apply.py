"""轮询申领 in the agent's workbench, in Debian's Chromium against the real platform: the agent applies for a
lead of its line's pool and sees it arrive among its leads; applied to a pool with nothing in it, it sees its
application wait in turn, and cancels it."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Browser, expect

from browser_support import Platform, allocator_lead, assert_accessible, new_context, screenshot, sign_in
from telesales_tools.platform import headers
from telesales_tools.scenario import BUSINESS_LINE

EMPTY_POOL = "apply-later"  # a pool of the line no lead is routed to: an application there waits


async def add_empty_pool(platform: Platform) -> None:
    """A routing rule of the line whose condition no seeded lead meets: a pool the agents may apply to."""
    operator = headers(platform.tenant, "browser-test", "operator")
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        current = (await http.get("/v1/config/routing", headers=operator)).json()
        rules = [r for r in current["value"] or [] if r["pool_id"] != EMPTY_POOL]
        rules.append({"pool_id": EMPTY_POOL, "business_line": BUSINESS_LINE, "product_interests": ["无人问津的产品"]})
        put = await http.put("/v1/config/routing", headers=operator, json=rules)
        assert put.status_code == 200, put.text


async def applications(platform: Platform, agent_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        answer = await http.get(f"/v1/agents/{agent_id}/applications",
                                headers=headers(platform.tenant, "browser-test", "admin"))
        answer.raise_for_status()
        return answer.json()["items"]  # type: ignore[no-any-return]


async def test_an_agent_applies_gets_a_lead_and_cancels_a_waiting_application(browser: Browser,
                                                                               platform: Platform) -> None:
    agent = platform.floor.agents[4]
    await add_empty_pool(platform)
    context = await new_context(browser, platform, bypass_csp=True)  # axe is injected into the page
    page = await context.new_page()
    await sign_in(page, agent.agent_id)
    card = page.get_by_test_id("apply-card")
    await expect(card.get_by_role("heading", name="申领线索")).to_be_visible()
    await expect(card.get_by_role("group", name="申领的线索池")).to_be_visible()
    await expect(card.get_by_role("button", name="申领")).to_be_enabled()  # a pool is chosen
    await page.wait_for_timeout(600)  # antd's colour transition from disabled done before axe measures
    await assert_accessible(page)
    rows = page.locator("table tbody tr.ant-table-row")
    before = await rows.count()

    # Apply to the line's pool: a lead is there, so it is the agent's at once and shows among its leads.
    await card.get_by_role("group", name="申领的线索池").get_by_text(BUSINESS_LINE, exact=True).click()
    await card.get_by_role("button", name="申领").click()
    await expect(page.get_by_text("已分到线索").first).to_be_visible()
    await expect(rows).to_have_count(before + 1)
    [served] = [a for a in await applications(platform, agent.agent_id) if a["status"] == "served"]
    lead = await allocator_lead(platform, served["lead_id"])
    assert (lead["status"], lead["holder"]) == ("held", agent.agent_id)
    await expect(card.get_by_role("link", name=f"已分到线索「{lead['name']}」", exact=False)).to_be_visible()
    # told as the answer to its application (the lead-assigned notification, assigned by the agent itself)
    await expect(page.get_by_text(f"你的申领已分到线索「{lead['name']}」").first).to_be_visible(timeout=15_000)

    # Apply to the empty pool: it waits, first in turn; the agent cancels it.
    await card.get_by_role("group", name="申领的线索池").get_by_text(EMPTY_POOL, exact=True).click()
    await card.get_by_role("button", name="申领").click()
    waiting = card.get_by_test_id("apply-waiting")
    await expect(waiting).to_contain_text(f"等待中：{EMPTY_POOL} 排第 1 位")
    await screenshot(page, "apply-waiting")
    assert [a["status"] for a in await applications(platform, agent.agent_id)][0] == "pending"
    await waiting.get_by_role("button", name="取消申领").click()
    await expect(waiting).to_have_count(0)
    await expect(card.get_by_text("已取消").first).to_be_visible()
    latest = (await applications(platform, agent.agent_id))[0]
    assert (latest["status"], latest["pool_id"], latest["lead_id"]) == ("cancelled", EMPTY_POOL, None)
    await expect(rows).to_have_count(before + 1)  # nothing more came of it
    await context.close()
