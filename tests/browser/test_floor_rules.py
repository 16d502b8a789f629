"""Issue 18's rules as the workbench shows them, in Debian's Chromium against the real platform: an agent asks
for a deal-in-progress mark, the supervisor is told, opens the lead from the notification and approves it, and
the agent sees it approved without reloading; a lead resting under contact pressure refuses the call button
in words (until when), and a number put on the do-not-call list tells its holder. The supervisor's leads page
lists the requests waiting for them. An agent's declared win reads as unconfirmed; rejected by the supervisor,
the agent is told why and the lead page says so, the lead held again."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import Browser, Page, expect

from browser_support import Platform, allocator_lead, assert_accessible, new_context, screenshot, sign_in
from telesales_testkit.harness import wait_until
from telesales_tools.platform import Publisher, headers

FLOOR_ZONE = ZoneInfo("Asia/Shanghai")  # the browser context's time zone (new_context)




async def claim_one_and_open(page: Page) -> str:
    """Claims one fresh lead in the console and opens its page; its id."""
    await page.goto("/claim")
    await page.get_by_label(re.compile("^领取数量：新名单")).fill("1")
    await page.get_by_role("button", name=re.compile("^领取 新名单")).click()
    await expect(page.get_by_text(re.compile("实际领到 1 条"))).to_be_visible()
    await page.goto("/leads")
    await page.locator("table tbody tr.ant-table-row").first.get_by_role("link").click()
    await page.wait_for_url(re.compile(r"/leads/[^/]+$"))
    return page.url.rsplit("/", 1)[1]






async def test_a_supervisor_approves_a_deal_mark_the_agent_asked_for(browser: Browser, platform: Platform) -> None:
    agent = platform.floor.agents[2]
    agent_context = await new_context(browser, platform)
    supervisor_context = await new_context(browser, platform, bypass_csp=True)  # axe is injected into its pages
    page = await agent_context.new_page()
    await sign_in(page, agent.agent_id)
    lead_id = await claim_one_and_open(page)
    state = page.get_by_test_id("deal-mark-state")
    await expect(state).to_have_text("未申请")

    # The agent asks: the mark waits for the supervisor and protects nothing yet.
    await page.get_by_label("申请说明（可选）").fill("客户已确认下周签约")
    await page.get_by_role("button", name="申请标记商机进行中").click()
    await expect(page.get_by_text("已提交申请，等待主管审批")).to_be_visible()
    await expect(state).to_contain_text("待主管审批")
    assert (await allocator_lead(platform, lead_id))["deal_in_progress"] is False

    # The supervisor is told, opens the lead from the notification and approves.
    async def told() -> bool:
        async with httpx.AsyncClient(base_url=platform.console, timeout=10) as http:
            answer = await http.get("/v1/notifications", headers=headers(
                platform.tenant, platform.floor.supervisor_id, "supervisor", platform.floor.team_id))
            answer.raise_for_status()
            return any(item["kind"] == "deal_mark_requested" and item["subject"].get("lead_id") == lead_id
                       for item in answer.json()["items"])
    await wait_until(told, 15.0, what="the console told the supervisor of the deal-mark request")
    boss = await supervisor_context.new_page()
    await sign_in(boss, platform.floor.supervisor_id)
    waiting = boss.get_by_role("heading", name="等待你审批")
    await expect(waiting).to_be_visible()  # the supervisor's list of requests still pending
    await expect(boss.get_by_role("link", name=re.compile("申请将线索.+标记为商机进行中（客户已确认下周签约）"))).to_be_visible()
    await assert_accessible(boss)
    await boss.get_by_role("button", name=re.compile("^通知，[1-9]")).click(timeout=15_000)
    panel = boss.get_by_role("dialog", name="通知")
    asked = panel.get_by_role("listitem").filter(has_text="申请将线索")
    await expect(asked.first).to_contain_text("客户已确认下周签约")
    await screenshot(boss, "deal-mark-requested")
    await asked.first.get_by_role("link", name="商机进行中待审批").click()
    await boss.wait_for_url(re.compile(rf"/leads/{re.escape(lead_id)}$"))
    await expect(boss.get_by_text("等待你审批")).to_be_visible()
    await assert_accessible(boss)
    await boss.get_by_label("审批意见（可选）").fill("合同已发出")
    await boss.get_by_role("button", name="批准", exact=True).click()
    await expect(boss.get_by_text("已批准商机进行中标记")).to_be_visible()
    await expect(boss.get_by_test_id("deal-mark-state")).to_contain_text("已批准，保护至")
    await boss.get_by_role("menuitem", name="我的线索").click()
    await expect(boss.get_by_role("heading", name="我的线索")).to_be_visible()
    await expect(waiting).to_have_count(0)  # decided: no longer waiting

    # The agent sees the decision come in and the lead page say so, without reloading.
    await expect(page.get_by_role("status").filter(has_text="商机进行中审批结果").first).to_be_visible(timeout=15_000)
    await expect(state).to_contain_text("已批准，保护至", timeout=15_000)
    await screenshot(page, "deal-mark-approved")
    lead = await allocator_lead(platform, lead_id)
    assert lead["deal_in_progress"] is True and lead["deal_mark"]["status"] == "approved"
    await supervisor_context.close()
    await agent_context.close()


async def test_a_refused_dial_reads_as_words(browser: Browser, platform: Platform) -> None:
    agent = platform.floor.agents[3]
    context = await new_context(browser, platform)
    page = await context.new_page()
    await sign_in(page, agent.agent_id)
    lead_id = await claim_one_and_open(page)

    # A dialer logs more calls than contact pressure allows (6 within the window): the lead rests.
    now = datetime.now(UTC)
    async with Publisher(platform.infra.kafka_bootstrap) as publisher:
        for i in range(7):
            await publisher.publish("calls.logged.v1", {
                "call_id": f"{lead_id}-pressure-{i}", "agent_id": agent.agent_id, "lead_id": lead_id,
                "started_at": (now - timedelta(minutes=10 * (7 - i))).isoformat(), "duration_seconds": 20,
                "connected": False}, tenant=platform.tenant, source="/dialer/browser-test", key=lead_id)

    async def resting() -> bool:
        rest = (await allocator_lead(platform, lead_id)).get("rest_until")
        return rest is not None and datetime.fromisoformat(rest) > datetime.now(UTC)
    await wait_until(resting, 15.0, what="the allocator rested the lead under contact pressure")
    rest_until = datetime.fromisoformat((await allocator_lead(platform, lead_id))["rest_until"])

    await page.reload()
    await page.get_by_role("button", name=re.compile(r"^拨打 ")).click()
    refusal = page.get_by_test_id("dial-refused")
    until = rest_until.astimezone(FLOOR_ZONE).strftime("%Y-%m-%d %H:%M")
    await expect(refusal).to_have_text(f"暂不可拨打：接触频次已达上限，静默至 {until}")
    assert not re.search(r"resting|409|\bdial_refused\b", await refusal.inner_text())
    await screenshot(page, "dial-refused")

    # The number goes on the do-not-call list: its holder is told at once.
    phone = platform.floor.phones[lead_id]
    async with httpx.AsyncClient(base_url=platform.url("lead-intake"), timeout=10) as http:
        answer = await http.put(f"/v1/do-not-call/{phone}", json={"reason": "complaint"},
                                headers=headers(platform.tenant, "browser-ops", "operator"))
        answer.raise_for_status()
    toast = page.get_by_role("status").filter(has_text="禁止拨打")
    await expect(toast.first).to_contain_text("号码已列入禁呼名单，请勿拨打", timeout=15_000)
    await screenshot(page, "do-not-call")
    await context.close()


async def test_a_rejected_win_tells_the_agent_why_and_the_lead_page_says_so(browser: Browser, platform: Platform) -> None:
    agent = platform.floor.agents[4]
    context = await new_context(browser, platform, bypass_csp=True)  # axe is injected into its pages
    page = await context.new_page()
    await sign_in(page, agent.agent_id)
    lead_id = await claim_one_and_open(page)
    form = page.get_by_role("form", name="标记成交")
    await form.get_by_label("成交金额（元）").fill("3000")
    await form.get_by_role("button", name="标记成交").click()
    await expect(page.get_by_text("待确认（不计入评级与排名）")).to_be_visible()
    assert (await allocator_lead(platform, lead_id))["win"]["state"] == "unconfirmed"

    # The supervisor rejects the win (over the API: the console has no confirmation form); the agent is told why
    # and the page shows the rejection and the lead held again, without reloading.
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        answer = await http.post(f"/v1/leads/{lead_id}/win/rejection", json={"reason": "客户未付款"},
                                 headers=headers(platform.tenant, platform.floor.supervisor_id, "supervisor",
                                                 platform.floor.team_id))
        assert answer.status_code == 200, answer.text
    toast = page.get_by_role("status").filter(has_text="成单被驳回")
    await expect(toast.first).to_contain_text("被主管驳回（客户未付款）", timeout=15_000)
    await expect(page.get_by_text("已被主管驳回：客户未付款")).to_be_visible(timeout=15_000)
    await screenshot(page, "win-rejected")
    await page.mouse.move(0, 0)  # off the button it clicked: its hover colours are not what the page shows
    await assert_accessible(page)
    lead = await allocator_lead(platform, lead_id)
    assert (lead["status"], lead["holder"], lead["win"]["state"]) == ("held", agent.agent_id, "rejected")
    await context.close()
