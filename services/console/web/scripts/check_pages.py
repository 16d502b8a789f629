"""Opens every page of the built app (dist/) in headless Chromium under the BFF's strict CSP and reports
CSP violations, console errors and axe-core's serious or critical findings, in both languages.

    npm run build && cd ../../.. && uv run --frozen python services/console/web/scripts/check_pages.py

The service APIs are answered by a small in-process server with fixed data shaped by the OpenAPI
documents: this checks the browser side only (no BFF, no services). Exit status 1 on any finding."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

WEB = Path(__file__).resolve().parent.parent
DIST = WEB / "dist"
AXE = WEB / "node_modules" / "axe-core" / "axe.min.js"
NONCE = "TEST"
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'nonce-TEST'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'"
)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
ME = "A001"

now = datetime.now(UTC)


def iso(delta_hours: float = 0) -> str:
    return (now + timedelta(hours=delta_hours)).isoformat()


LEAD = {
    "lead_id": "L1", "name": "王先生", "phone": "+8613800000000", "phone_masked": False, "company": "上海某公司",
    "business_line": "edu", "buyer": False, "call_count": 2, "deal_in_progress": False, "dedicated_agent": None,
    "drop_count": 0, "funnel_step": "intent", "held_since": iso(-30), "holder": ME, "last_call_at": iso(-3),
    "lead_grade": "A", "pool_id": "p1", "product_interest": "课程", "region": "上海", "rest_until": None,
    "score": 72, "stage_percent": 35, "status": "held",
    "deal_mark": {"request_id": "R1", "status": "refused", "agent_id": ME, "requested_at": iso(-4),
                  "note": "客户在走流程", "decided_by": "S1", "decided_at": iso(-3), "reason": "还没有合同",
                  "expires_at": None},
    "reclaim": {"kind": "not_converted", "at": iso(30), "warn_at": iso(6), "unless": "advance_stage"},
    "hot": {"kind": "unpaid_order", "detail": "订单 88", "at": iso(-1)},
    "score_parts": [{"feature": "source", "value": "referral", "points": 30},
                    {"feature": "region", "value": "上海", "points": 12}],
    "score_model": {"probability_won": 0.4, "blend_weight": 0.3, "outcomes_used": 812},
}
HISTORY = {"lead_id": "L1", "entries": [
    {"kind": "claimed", "at": iso(-30), "agent_id": ME, "via": "gold"},
    {"kind": "call", "at": iso(-3), "agent_id": ME, "connected": True, "duration_seconds": 95},
    {"kind": "stage", "at": iso(-2), "agent_id": ME, "stage_percent": 35, "funnel_step": "intent",
     "deal_in_progress": False},
    {"kind": "signal", "at": iso(-1), "signal_kind": "unpaid_order", "detail": "订单 88"},
]}
TIERS = [
    {"tier_id": "basic", "name": "普通线索", "filter": {}, "grades": [], "min_worked_minutes": 0, "pool_ids": ["p1"],
     "may_open": True, "why_not": None},
    {"tier_id": "gold", "name": "金牌线索", "filter": {}, "grades": ["A", "B"], "min_worked_minutes": 210,
     "pool_ids": ["p2"], "may_open": False, "why_not": "worked 130 of 210 minutes"},
]
AGENT = {"agent_id": ME, "name": "张三", "role": "agent", "team_id": "T1", "business_line": "edu", "active": True,
         "grade": "B", "ability": 1.0, "status": "working", "status_since": iso(-3), "worked_minutes_today": 130,
         "holding": 12, "supervisor_id": None}
COUNTS = {"outbound": 40, "connected": 22, "effective": 12, "deep": 5, "talk_seconds": 3600,
          "multi_effective_leads": 3, "received": 10, "processed": 8, "valid": 9, "intent": 4, "agreed_visit": 2,
          "actual_visit": 1, "plan": 1, "paid": 0, "won": 0, "won_fen": 0, "connect_rate": 0.55,
          "effective_rate": 0.3, "deep_rate": 0.125, "processing_rate": 0.8, "conversion_rate": 0.0}
FUNNEL = [{"step": s, "count": COUNTS[s], "rate_from_previous": None, "rate_over_total": None}
          for s in ["valid", "intent", "agreed_visit", "actual_visit", "plan", "paid"]]
PER_AGENT = {k: v / 2 for k, v in COUNTS.items() if k in {
    "outbound", "connected", "effective", "deep", "talk_seconds", "received", "processed", "valid", "intent",
    "agreed_visit", "actual_visit", "plan", "paid", "won"}}
INDICATORS = {
    "agent_id": ME, "team_id": "T1", "cohort": "learner", "on_roster": True, "from": now.date().isoformat(),
    "to": now.date().isoformat(), "totals": COUNTS, "funnel": FUNNEL, "team_agents": 8, "days": [],
    "rates": {"agent": {"connect_60s": 0.3, "intent": 0.44}, "team": {"connect_60s": 0.35, "intent": 0.4}},
    "team": {"team_id": "T1", "agents": 8, "totals": COUNTS, "funnel": FUNNEL, "per_agent": PER_AGENT},
}
TIP = {"tip_id": "T1", "author_id": "A009", "status": "listed", "latest_version": 1, "listed_version": 1,
       "title": "报价异议三步法", "summary": "三步化解价格异议", "price": 10, "rating": 4.5, "ratings": 12, "sales": 30,
       "stage": "objection_handling", "product_line": "edu", "tags": ["报价"], "has_media": True, "access": False,
       "listed_at": iso(-100), "score": None}
TIP2 = {**TIP, "tip_id": "T2", "title": "开场白模板", "access": True}
CONTENT = {"tip_id": "T2", "version": 1, "author_id": "A009", "status": "listed", "title": "开场白模板",
           "summary": None, "stage": "opening", "product_line": "edu", "tags": [], "price": 10,
           "media": {"content_type": "audio/mpeg", "size": 1000}, "body": "第一步……", "created_at": iso(-100),
           "updated_at": iso(-100)}
NOTIFICATIONS = {"items": [
    {"seq": 2, "id": "n2", "kind": "hot_lead", "link": "/leads/L1", "at": iso(-1), "read": False,
     "subject": {"lead_id": "L1", "signal_kind": "unpaid_order", "detail": "订单 88", "routed": True,
                 "occurred_at": iso(-1)}},
    {"seq": 4, "id": "n4", "kind": "deal_mark_decided", "link": "/leads/L1", "at": iso(-3), "read": True,
     "subject": {"lead_id": "L1", "request_id": "R1", "decision": "refused", "decided_by": "S1",
                 "reason": "还没有合同", "expires_at": None}},
    {"seq": 3, "id": "n3", "kind": "tip_recommended", "link": "/tips/T1", "at": iso(-4), "read": True,
     "subject": {"tip_id": "T1", "trigger": "call", "step": None, "stage": "objection_handling",
                 "tips": [{"tip_id": "T1", "title": "报价异议三步法", "price": 10, "rating": 4.5}]}},
    {"seq": 1, "id": "n1", "kind": "coins_received", "link": "/wallet", "at": iso(-5), "read": True,
     "subject": {"source": "bonus", "amount": 50, "draw_id": "D1"}},
], "unread": 1, "next_before": None}
STATEMENT = {"account": f"user:{ME}:wallet", "balance": 120, "next_cursor": None, "items": [
    {"at": iso(-5), "transfer_id": "X1", "kind": "allocation", "state": "posted", "direction": "in", "amount": 50,
     "signed_amount": 50, "counterparty": "budget", "linked_group": None, "hold_id": None, "reference": None,
     "note": None, "by": None}]}

ROUTES: dict[str, object] = {
    f"/api/allocator/v1/agents/{ME}": AGENT,
    f"/api/allocator/v1/agents/{ME}/leads": {"items": [LEAD], "next_cursor": None},
    "/api/allocator/v1/tiers": TIERS,
    "/api/allocator/v1/leads/L1": LEAD,
    "/api/allocator/v1/leads/L1/history": HISTORY,
    f"/api/metrics/v1/agents/{ME}/indicators": INDICATORS,
    f"/api/ledger/v1/users/{ME}": {"user_id": ME, "on_roster": True, "wallet": 120, "earnings": 30,
                                   "allocation_blocked": False, "name": "张三", "grade": "B"},
    "/api/marketplace/v1/tips": {"items": [TIP, TIP2], "next_cursor": None},
    "/api/marketplace/v1/tips/T1": TIP,
    "/api/marketplace/v1/tips/T2": TIP2,
    "/api/marketplace/v1/tips/T2/content": CONTENT,
    "/v1/notifications": NOTIFICATIONS,
}


class Handler(BaseHTTPRequestHandler):
    signed_in = False

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value).encode(), "application/json")

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/auth/dev-login":
            Handler.signed_in = True
            self._json(200, {"ok": True})
        elif path.startswith("/api/allocator/v1/agents/") and path.endswith("/claims"):
            self._json(200, {"requested": 5, "granted": 5, "claimed": 3, "holding": 15, "holding_cap": 50,
                             "quota_left": 17, "leads": []})
        else:
            self._json(202, {"event_id": "e1"})

    def do_GET(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path == "/auth/methods":
            self._json(200, {"development": True, "sso": True})
        elif path == "/v1/session":
            if not Handler.signed_in:
                self._json(401, {"title": "Unauthorized", "detail": "sign in", "login_url": "/auth/login"})
            else:
                self._json(200, {"user": {"sub": ME, "name": "张三", "roles": ["agent"]}, "csrf_token": "c",
                                 "dialer_url": None})
        elif path == "/v1/notifications/stream":
            event = json.dumps(NOTIFICATIONS["items"][0])
            body = f"retry: 600000\nid: 2\nevent: notification\ndata: {event}\n\n".encode()
            self._send(200, body, "text/event-stream")
        elif path.startswith("/api/ledger/v1/accounts/") and path.endswith("/statement"):
            self._json(200, STATEMENT)
        elif path in ROUTES:
            self._json(200, ROUTES[path])
        elif path.startswith("/api/"):
            self._json(404, {"title": "Not Found", "detail": "no such thing here"})
        else:
            file = (DIST / path.lstrip("/")).resolve()
            if path.startswith("/assets/") and file.is_file() and DIST in file.parents:
                kind = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}.get(file.suffix,
                                                                                               "application/octet-stream")
                self._send(200, file.read_bytes(), kind)
            else:
                html = (DIST / "index.html").read_text().replace("__CSP_NONCE__", NONCE).encode()
                self._send(200, html, "text/html; charset=utf-8", {"Content-Security-Policy": CSP})


NAMES = {
    "zh-CN": {"menu": "我的线索", "count": "领取数量：普通线索", "claim": "领取 普通线索", "connected": "已接通",
              "duration": "通话时长（秒）", "log": "记录通话结果", "logged": "通话已记录", "stage": "阶段进度",
              "move": "推进阶段", "buy": "购买（10 币）", "toast": "热线索"},
    "en": {"menu": "My leads", "count": "How many from 普通线索", "claim": "Claim from 普通线索", "connected": "Connected",
           "duration": "Duration (seconds)", "log": "Log call result", "logged": "Call logged", "stage": "Stage progress",
           "move": "Move stage", "buy": "Buy (10 coins)", "toast": "Hot lead"},
}

PAGES = ["/leads", "/leads/L1", "/claim", "/tips", "/tips/T1", "/tips/T2", "/wallet", "/day"]


async def open_page(browser: Browser, lang: str, findings: list[str]) -> tuple[BrowserContext, Page, dict[str, str]]:
    """A page in `lang` that reports CSP violations, console errors and page errors to `findings`; the dict
    names the URL being checked."""
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    await context.add_init_script(
        f"localStorage.setItem('console.lang', '{lang}');"
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation', e => "
        "window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + (e.sample || '')));"
    )
    page = await context.new_page()
    where = {"url": ""}
    # A refused request (the 401 of the session probe, a 404 the page expects) is logged by the browser,
    # not the app: those are left out.
    page.on("console", lambda m: m.type in ("error", "warning")
            and not m.text.startswith("Failed to load resource")
            and findings.append(f"[{lang}] {where['url']}: console {m.type}: {m.text[:300]}"))
    page.on("pageerror", lambda e: findings.append(f"[{lang}] {where['url']}: page error: {e}"))
    return context, page, where


async def audit(page: Page, lang: str, label: str, axe: str, findings: list[str]) -> None:
    """CSP violations since the last audit, serious axe findings, and the document's language."""
    await page.wait_for_timeout(600)
    csp = await page.evaluate("window.__csp")
    findings.extend(f"[{lang}] {label}: CSP {v}" for v in csp)
    await page.evaluate("window.__csp = []")
    await page.evaluate(axe)
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    for v in result["violations"]:
        if v["impact"] in ("serious", "critical"):
            targets = [n["target"] for n in v["nodes"]][:3]
            findings.append(f"[{lang}] {label}: axe {v['impact']} {v['id']}: {v['help']} {targets}")
    title = await page.title()
    html_lang = await page.evaluate("document.documentElement.lang")
    print(f"[{lang}] {label}: title={title!r} lang={html_lang}")
    if html_lang != lang:
        findings.append(f"[{lang}] {label}: <html lang> is {html_lang}")


async def use_the_workbench(page: Page, base: str, lang: str, audited: Callable[[str], Awaitable[None]]) -> None:
    """The names the end-to-end tests use, and what they do (the toasts they make are checked too)."""
    names = NAMES[lang]
    await page.goto(base + "/claim")
    await page.get_by_role("spinbutton", name=names["count"]).fill("3")
    await page.get_by_role("button", name=names["claim"]).click()
    await page.get_by_role("status").filter(has_text="15/50").wait_for()
    await audited("/claim after a claim")
    await page.goto(base + "/leads/L1")
    await page.get_by_role("menuitem", name=names["menu"]).wait_for()
    await page.get_by_role("switch", name=names["connected"]).wait_for()
    await page.get_by_role("slider", name=names["stage"]).wait_for()
    await page.get_by_role("button", name=names["move"], exact=True).wait_for()
    await page.get_by_label(names["duration"]).fill("90")
    await page.get_by_role("button", name=names["log"], exact=True).click()
    await page.get_by_text(names["logged"]).wait_for()
    await page.get_by_text(names["toast"]).first.wait_for()
    await audited("/leads/L1 after logging a call")
    await page.goto(base + "/tips/T1")
    await page.get_by_role("button", name=names["buy"]).wait_for()
    await page.goto(base + "/tips/T2")
    await page.get_by_label("开场白模板", exact=True).wait_for()
    bell = page.get_by_role("button", name="通知，1 条未读" if lang == "zh-CN" else "Notifications, 1 unread")
    await bell.click()
    await page.wait_for_selector(".notification-panel")
    await audited("notification panel")


async def check_language(browser: Browser, base: str, lang: str, axe: str, findings: list[str]) -> None:
    """Sign in, visit every page, then use the workbench as the end-to-end tests do, auditing as it goes."""
    context, page, where = await open_page(browser, lang, findings)

    async def audited(label: str) -> None:
        await audit(page, lang, label, axe, findings)

    Handler.signed_in = False
    where["url"] = "/login"
    await page.goto(base + "/login")
    await page.wait_for_selector("form")
    await audited("/login")
    await page.get_by_label("坐席工号" if lang == "zh-CN" else "Agent ID").fill(ME)
    await page.get_by_role("button", name="登录" if lang == "zh-CN" else "Sign in", exact=True).click()
    await page.wait_for_url("**/leads")
    for path in PAGES:
        where["url"] = path
        await page.goto(base + path)
        await page.wait_for_selector("h1")
        await page.wait_for_timeout(800)
        await audited(path)
    await use_the_workbench(page, base, lang, audited)
    await context.close()


async def check(base: str) -> int:
    findings: list[str] = []
    axe = AXE.read_text()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for lang in ("zh-CN", "en"):
            await check_language(browser, base, lang, axe, findings)
        await browser.close()
    for finding in findings:
        print(finding)
    print(f"{len(findings)} finding(s)")
    return 1 if findings else 0


def main() -> int:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return asyncio.run(check(f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()


if __name__ == "__main__":
    sys.exit(main())
