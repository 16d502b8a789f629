"""Calls without the number, in the browser: in a tenant that calls only through middle numbers (the
simulated provider), an agent opens a lead it holds and calls it; the page dials a middle number bound to
the customer and says until when, and the customer's number is nowhere in the page, its list or its
answers, without serious accessibility violations. The tenant's policy is put back afterwards."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from playwright.async_api import Browser, expect

from browser_support import (
    MIDDLE_NUMBERS,
    ApiAnswers,
    Platform,
    allocator_lead,
    assert_accessible,
    new_context,
    screenshot,
    sign_in,
)
from telesales_testkit.harness import wait_until
from telesales_tools.platform import headers


async def policy_applied(platform: Platform, *, masked_only: bool) -> None:
    """Until the allocator answers by the policy just written (it caches the policy for a few seconds)."""
    async def applied() -> bool:
        view = await allocator_lead(platform, next(iter(platform.floor.phones)))
        return (view.get("masked_reason") == "masked_dialing_only") is masked_only
    await wait_until(applied, 15.0, what=f"the allocator applies masked_dialing_only={masked_only}")


@asynccontextmanager
async def masked_dialing_only(platform: Platform) -> AsyncIterator[None]:
    """The floor's tenant on the simulated provider, masked-only, while the block runs."""
    admin = headers(platform.tenant, "browser-test", "admin")
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        read = await http.get("/v1/config/policy", headers=admin)
        read.raise_for_status()
        before: dict[str, Any] = read.json()["value"]
        changed = await http.put("/v1/config/policy", headers={**admin, "If-Match": read.headers["ETag"]},
                                 json={**before, "number_privacy": "simulated", "masked_dialing_only": True})
        changed.raise_for_status()
        try:
            await policy_applied(platform, masked_only=True)
            yield
        finally:
            await http.put("/v1/config/policy", headers={**admin, "If-Match": changed.headers["ETag"]}, json=before)
            await policy_applied(platform, masked_only=False)  # the other tests see the floor as it was


async def claim_one(platform: Platform, agent_id: str) -> str:
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        answer = await http.post(f"/v1/agents/{agent_id}/claims", json={"tier_id": "fresh", "count": 1},
                                 headers=headers(platform.tenant, agent_id, "agent", platform.floor.team_id))
        answer.raise_for_status()
        [lead] = answer.json()["leads"]
        return str(lead["lead_id"])


async def test_an_agent_calls_through_a_middle_number_without_seeing_the_number(browser: Browser,
                                                                                platform: Platform) -> None:
    agent = platform.floor.agents[-1]
    async with masked_dialing_only(platform):
        lead_id = await claim_one(platform, agent.agent_id)
        phone = platform.floor.phones[lead_id]
        secrets = (phone, phone[3:], phone[3:6] + " " + phone[6:10] + " " + phone[10:])  # +86…, 139…, grouped

        context = await new_context(browser, platform, bypass_csp=True)
        page = await context.new_page()
        answers = ApiAnswers(page)
        await sign_in(page, agent.agent_id)
        await page.goto(f"/leads/{lead_id}")
        await expect(page.get_by_text("本公司不显示客户号码：通过隐私号拨打。")).to_be_visible()
        await page.get_by_role("button", name=re.compile(r"^拨打 \+86\d{3}\*{4}\d{4}$")).click()
        via = page.get_by_test_id("dial-via-privacy")
        await expect(via).to_contain_text(re.compile(r"通过隐私号 \+86170000001\d{2} 拨打，有效期至 \d\d:\d\d:\d\d"))
        middle = re.search(r"\+86170000001\d{2}", await via.inner_text())
        assert middle is not None and middle.group(0) in MIDDLE_NUMBERS
        link = page.get_by_role("link", name=f"再次拨打隐私号 {middle.group(0)}")
        assert await link.get_attribute("href") == f"tel:{middle.group(0)}"
        await assert_accessible(page)
        await screenshot(page, "lead-page-privacy-number")

        html = await page.content()
        await page.goto("/leads")
        await expect(page.get_by_role("heading", name="我的线索")).to_be_visible()
        html += await page.content()
        seen = await answers.bodies()
        for secret in secrets:
            assert secret not in html, secret
            assert not any(secret in body for body in seen), secret
        assert any(lead_id in body for body in seen)  # the answers were seen, and they were about this lead
        await context.close()
