"""Who saw what, in the browser: past the hourly budget of full numbers (spent beforehand in the shared Redis
count, as other pages and services would), the holder's lead page shows the number masked and says why, in
words, without serious accessibility violations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from browser_support import Platform, assert_accessible, new_context, screenshot, sign_in
from telesales_runtime.access_log import DEFAULT_UNMASK_BUDGET, UnmaskBudget, hour_of
from telesales_runtime.redis_client import connect_redis
from telesales_tools.platform import headers


async def claim_one(platform: Platform, agent_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        answer = await http.post(f"/v1/agents/{agent_id}/claims", json={"tier_id": "fresh", "count": 1},
                                 headers=headers(platform.tenant, agent_id, "agent", platform.floor.team_id))
        answer.raise_for_status()
        [lead] = answer.json()["leads"]
        return dict(lead)


async def test_past_the_budget_the_lead_page_says_why_the_number_is_masked(browser: Browser,
                                                                          platform: Platform) -> None:
    agent = platform.floor.agents[-1]
    lead = await claim_one(platform, agent.agent_id)
    assert not lead["phone_masked"]
    redis = connect_redis(platform.infra.redis_url)
    budget = UnmaskBudget(redis)
    key = budget.key(platform.tenant, agent.agent_id, hour_of(datetime.now(UTC)))
    try:
        await redis.incrby(key, DEFAULT_UNMASK_BUDGET)
        context = await new_context(browser, platform, bypass_csp=True)
        page = await context.new_page()
        await sign_in(page, agent.agent_id)
        await page.goto(f"/leads/{lead['lead_id']}")
        await expect(page.get_by_text("号码已隐藏：您已达到每小时查看完整号码的上限，下个小时恢复显示。")).to_be_visible()
        await expect(page.get_by_text(lead["phone"])).to_have_count(0)
        await expect(page.get_by_text("没有可拨打的号码")).to_be_visible()  # no dial button with a masked number
        await assert_accessible(page)
        await screenshot(page, "lead-page-unmask-budget-exceeded")
        await context.close()
    finally:
        await redis.delete(key)  # the rest of the suite reads this agent's leads as usual
        await redis.aclose()
