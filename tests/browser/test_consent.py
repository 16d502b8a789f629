"""Consent in the browser: a lead that came with the person's consent (telemarketing agreed with its statement
and evidence, sms refused) shows on the agent's lead page what the person agreed to, in words, without
serious accessibility violations. The lead is in a business line of its own, so no other test meets it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from playwright.async_api import Browser, expect

from browser_support import Platform, assert_accessible, new_context, pooled_lead, screenshot, sign_in


async def consented_lead(platform: Platform) -> str:
    given = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    lead = {"name": "周敏", "phone": "139" + str(uuid.uuid4().int)[:8], "business_line": "consent-browser",
            "consent": {"statement": "我同意课程顾问致电介绍在职研究生课程", "given_at": given, "scopes": "电销",
                        "refused": "短信", "evidence": "rec-2026-77"}}
    return await pooled_lead(platform, lead)


async def test_the_lead_page_shows_what_the_person_agreed_to(browser: Browser, platform: Platform) -> None:
    lead_id = await consented_lead(platform)
    agent = platform.floor.agents[0]
    context = await new_context(browser, platform, bypass_csp=True)  # axe-core is injected below
    page = await context.new_page()
    await sign_in(page, agent.agent_id)
    await page.goto(f"/leads/{lead_id}")
    consent = page.get_by_role("region", name="联系同意")
    await expect(consent).to_be_visible()
    await expect(consent.get_by_text("电话营销")).to_be_visible()
    await expect(consent).to_contain_text("同意 · “我同意课程顾问致电介绍在职研究生课程”")
    await expect(consent).to_contain_text("凭证：rec-2026-77")
    await expect(consent).to_contain_text("短信")
    await expect(consent).to_contain_text("拒绝或撤回")  # sms refused
    await expect(consent.get_by_role("alert")).to_have_count(0)  # telemarketing agreed: no do-not-call warning
    await assert_accessible(page)
    await screenshot(page, "lead-page-consent")
    await context.close()
