"""Erasure in the browser: an operator (signed in as back-office staff) erases a person the platform knows,
by phone and email, from the access-log page, and follows the request from pending to complete with the
services that answered; the list shows it; after submission neither the page nor any answer it received
holds the number or the email in full. An unknown person gets "nothing found"; an invalid number gets the
service's problem in words; agents and supervisors see no card, and the BFF passes their direct call to
lead-intake, which refuses it; an auditor reads the list but has no card either."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
from playwright.async_api import Browser, Page, expect

from browser_support import (
    AUDITOR_ID,
    ApiAnswers,
    Platform,
    assert_accessible,
    new_context,
    pooled_lead,
    screenshot,
    sign_in,
)
from telesales_tools.floor import phone_of
from telesales_tools.platform import headers

SERVICES = ("allocator", "console", "lead-intake", "ledger", "marketplace", "metrics")
COMPLETION_TIMEOUT_MS = 60_000


async def known_person(platform: Platform) -> tuple[str, str, str]:
    """A person with a phone and an email, qualified by lead-intake and pooled by the allocator (in a business
    line of its own, so no other test meets the lead): (lead id, E.164 phone, email)."""
    ref = uuid.uuid4().hex[:10]
    phone, email = phone_of(f"erasure-{ref}", 3), f"erase-{ref}@example.com"
    lead = {"name": "孙丽", "phone": phone, "email": email, "business_line": "erasure-browser"}
    return await pooled_lead(platform, lead), phone, email


async def request_erasure(page: Page, *, phone: str = "", email: str = "", reason: str = "") -> None:
    card = page.get_by_role("form", name="删除个人信息")
    for label, value in (("手机号", phone), ("邮箱", email), ("原因（如工单号）", reason)):
        if value:
            await card.get_by_label(label, exact=True).fill(value)
    # (after a first request, Ant Design's loading icon, on its way out of the button, can stay in the page and lend
    # the button its aria-label: "loading 删除")
    await card.get_by_role("button", name=re.compile(r"^(loading )?删除$")).click()


async def test_an_operator_erases_a_known_person_and_sees_every_service_answer(operator_page: Page,
                                                                              platform: Platform) -> None:
    page = operator_page
    lead_id, phone, email = await known_person(platform)
    national = phone[3:]
    secrets = (phone, national, f"{national[:3]} {national[3:7]} {national[7:]}", email)
    answers = ApiAnswers(page)
    await request_erasure(page, phone=f"{national[:3]} {national[3:7]} {national[7:]}", email=email,
                          reason="工单 PD-19")

    status = page.get_by_test_id("erasure-status")
    assert await status.get_attribute("aria-live") == "polite"
    await expect(status).to_contain_text(re.compile(r"已受理请求 erasure-[0-9a-f]{32}：1 条线索，各服务正在删除。"))
    request_id = re.search(r"erasure-[0-9a-f]{32}", await status.inner_text()).group(0)  # type: ignore[union-attr]
    await expect(status).to_contain_text(f"请求 {request_id} 已完成：1 条线索的个人信息已在所有服务中删除。",
                                         timeout=COMPLETION_TIMEOUT_MS)
    await expect(status).to_contain_text("6 个服务中已有 6 个删除了各自的副本。")
    for service in SERVICES:
        await expect(status.get_by_text(service, exact=True)).to_be_visible()
    for label in ("手机号", "邮箱"):
        assert await page.get_by_label(label, exact=True).input_value() == ""

    row = page.get_by_role("table", name="删除请求").get_by_role("row").filter(has_text=request_id)
    await expect(row).to_contain_text("已完成")
    await expect(row).to_contain_text("6/6")
    await expect(row).to_contain_text("工单 PD-19")
    await assert_accessible(page)
    await screenshot(page, "erasure-complete")

    shown = await page.content() + await page.locator("body").inner_text()
    await page.reload()
    await expect(page.get_by_role("table", name="删除请求").get_by_text(request_id)).to_be_visible()
    shown += await page.content() + await page.locator("body").inner_text()
    seen = await answers.bodies()
    for secret in secrets:
        assert secret not in shown, secret
        assert not any(secret in body for body in seen), secret
    assert any(request_id in body for body in seen)  # the answers were seen, and they were about this request

    admin = headers(platform.tenant, "browser-test", "admin")
    async with httpx.AsyncClient(base_url=platform.url("lead-intake"), timeout=10) as intake:
        record = (await intake.get(f"/v1/erasures/{request_id}", headers=admin)).json()
    assert record["status"] == "complete" and record["lead_ids"] == [lead_id]
    assert sorted(record["services"]) == list(SERVICES)
    assert record["requested_by"] == {"sub": "browser-operator", "roles": ["operator"]}


async def test_an_unknown_person_is_nothing_found_and_a_bad_number_gets_the_problem(operator_page: Page) -> None:
    page = operator_page
    await request_erasure(page, email=f"nobody-{uuid.uuid4().hex[:8]}@example.com")
    status = page.get_by_test_id("erasure-status")
    await expect(status).to_contain_text(
        re.compile(r"没有找到该手机号或邮箱的线索（请求 erasure-[0-9a-f]{32}），无需删除。"))
    await expect(status).not_to_contain_text("个服务中已有")

    await request_erasure(page, phone="12")
    alert = page.get_by_role("alert").filter(has_text="删除请求未被受理")
    await expect(alert).to_contain_text("'12' is not a valid phone number.")
    await expect(status).to_be_empty()  # the earlier answer is not left standing beside the refusal
    assert await page.get_by_label("手机号", exact=True).input_value() == "12"  # kept, to be corrected
    await screenshot(page, "erasure-invalid-phone")


async def direct_erasure_call(page: Page) -> dict[str, Any]:
    """What the BFF answers the signed-in browser when it posts an erasure itself (with its CSRF token)."""
    return await page.evaluate("""async () => {
        const session = await (await fetch('/v1/session')).json();
        const answer = await fetch('/api/lead-intake/v1/erasures', {method: 'POST', headers: {
            'Content-Type': 'application/json', 'X-CSRF-Token': session.csrf_token},
            body: JSON.stringify({phone: '13912345678'})});
        const listed = await fetch('/api/lead-intake/v1/erasures');
        return {status: answer.status, type: answer.headers.get('content-type'), body: await answer.json(),
                listed: listed.status, roles: session.user.roles};
    }""")


async def test_agents_and_supervisors_see_no_card_and_are_refused(browser: Browser, platform: Platform) -> None:
    for user, role in ((platform.floor.agents[0].agent_id, "agent"), (platform.floor.supervisor_id, "supervisor")):
        context = await new_context(browser, platform)
        page = await context.new_page()
        await sign_in(page, user)
        await expect(page.get_by_role("menuitem", name="访问日志")).to_have_count(0)
        await page.goto("/access-log")
        await expect(page.get_by_role("heading", name="访问日志：谁查看了哪些号码")).to_be_visible()
        await expect(page.get_by_role("alert")).to_be_visible()  # the access log itself is refused them
        await expect(page.get_by_role("form", name="删除个人信息")).to_have_count(0)
        await expect(page.get_by_role("table", name="删除请求")).to_have_count(0)
        answer = await direct_erasure_call(page)
        assert answer["roles"] == [role]
        assert answer["status"] == 403 and answer["type"].startswith("application/problem+json"), answer
        assert answer["listed"] == 403, answer
        await context.close()


async def test_an_auditor_reads_the_requests_but_may_not_ask_for_one(browser: Browser, platform: Platform) -> None:
    context = await new_context(browser, platform)
    page = await context.new_page()
    await sign_in(page, AUDITOR_ID, landing="/access-log")
    await expect(page.get_by_role("table", name="删除请求")).to_be_visible()
    await expect(page.get_by_role("form", name="删除个人信息")).to_have_count(0)
    answer = await direct_erasure_call(page)
    assert answer["roles"] == ["auditor"]
    assert answer["status"] == 403 and answer["listed"] == 200, answer
    await context.close()
