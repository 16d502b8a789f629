"""What the browser tests share: the platform they run (six service processes), a browser profile on the
console, screenshots kept as test artifacts, and axe-core's accessibility check."""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.async_api import Browser, BrowserContext, Page, Response
from playwright.async_api import Error as PlaywrightError

from telesales_testkit.bench import ServiceProcess
from telesales_testkit.harness import wait_until
from telesales_testkit.infra import Infra
from telesales_tools.floor import Floor
from telesales_tools.platform import Endpoints, headers

REPO = Path(__file__).resolve().parents[2]
WEB_DIST = REPO / "services" / "console" / "web" / "dist"
TOOLS = Path(__file__).resolve().parent / "node_modules"
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("TELESALES_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
READY_TIMEOUT_S = 120.0
MIDDLE_NUMBERS = ("+8617000000101", "+8617000000102", "+8617000000103")
# Back-office staff the console signs in without a roster record (CONSOLE_DEV_STAFF): operators and auditors
# are not on the floor's roster, so the roster-based development sign-in alone has none.
OPERATOR_ID = "browser-operator"
AUDITOR_ID = "browser-auditor"
DEV_STAFF = {OPERATOR_ID: "operator", AUDITOR_ID: "auditor"}

# name, package, settings prefix
SERVICES = (("lead-intake", "lead_intake", "LEAD_INTAKE_"), ("allocator", "allocator", "ALLOCATOR_"),
            ("ledger", "ledger", "LEDGER_"), ("marketplace", "marketplace", "MARKETPLACE_"),
            ("metrics", "metrics", "METRICS_"), ("console", "console", "CONSOLE_"))


@dataclass
class Platform:
    run: str
    tenant: str
    infra: Infra
    processes: dict[str, ServiceProcess]
    floor: Floor

    def url(self, service: str) -> str:
        return self.processes[service].base_url

    @property
    def console(self) -> str:
        return self.url("console")

    @property
    def endpoints(self) -> Endpoints:
        return Endpoints(kafka_bootstrap=self.infra.kafka_bootstrap,
                         urls={name: self.url(name) for name, _, _ in SERVICES})


def tenant_of(run: str) -> str:
    return f"browser-{run}"


def service_env(name: str, package: str, prefix: str, run: str, ports: dict[str, int]) -> dict[str, str]:
    settings = {"MONGO_DB": f"browser_{package}_{run}", "CONSUMER_GROUP": f"browser-{name}-{run}",
                "EVENT_SOURCE": f"/services/{name}/browser-{run}", "LOG_JSON": "false", "LOG_LEVEL": "WARNING",
                "KAFKA_SESSION_TIMEOUT_MS": "6000", "OUTBOX_POLL_SECONDS": "0.1", "KAFKA_CREATE_TOPICS": "false"}
    if name in ("allocator", "ledger"):  # no weekly grading or reclaim sweep re-grading the seeded floor mid-test
        settings["SWEEP_ENABLED"] = "false"
    if name == "lead-intake":  # erasures clear the topics within seconds; groups other tests left count 5 s
        settings |= {"TOPIC_ERASURE_INTERVAL_SECONDS": "1", "TOPIC_ERASURE_GROUP_IDLE_SECONDS": "5"}
    if name == "allocator":  # calls without the number: the simulated provider's middle numbers
        settings["PRIVACY_SIMULATED_NUMBERS"] = ",".join(MIDDLE_NUMBERS)
    if name == "marketplace":
        settings |= {"LEDGER_URL": f"http://127.0.0.1:{ports['ledger']}",
                     "METRICS_URL": f"http://127.0.0.1:{ports['metrics']}"}
    if name == "console":
        settings |= {f"{other.upper().replace('-', '_')}_URL": f"http://127.0.0.1:{ports[other]}"
                     for other, _, _ in SERVICES if other != "console"}
        settings["PUBLIC_URL"] = f"http://127.0.0.1:{ports['console']}"
        settings["DEFAULT_TENANT"] = tenant_of(run)  # development sign-in signs in to the seeded floor's tenant
        settings["DEV_STAFF"] = json.dumps(DEV_STAFF)
    return {prefix + key: value for key, value in settings.items()}


async def new_context(browser: Browser, platform: Platform, *, bypass_csp: bool = False) -> BrowserContext:
    """A fresh browser profile on the console (zh-CN, the floor's time zone). `bypass_csp` only for the
    accessibility check, which injects axe-core into the page."""
    return await browser.new_context(base_url=platform.console, locale="zh-CN", timezone_id="Asia/Shanghai",
                                     viewport={"width": 1440, "height": 900}, bypass_csp=bypass_csp)


async def screenshot(page: Page, name: str) -> Path:
    """A screenshot kept as a test artifact (test-artifacts/browser/<name>.png)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # Loading states and entry animations done (a live stream keeps the network busy, so no "networkidle").
    await page.locator(".ant-spin-spinning").first.wait_for(state="detached", timeout=10_000)
    await page.wait_for_timeout(600)
    await page.screenshot(path=str(path), full_page=False)
    return path


async def axe_violations(page: Page, *, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict[str, Any]]:
    """axe-core's violations on the page once its animations have ended (of the given impacts). axe-core comes
    from tests/browser/node_modules; the page's CSP refuses injected scripts, so the page must be in a context
    made with new_context(..., bypass_csp=True)."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.add_script_tag(path=str(TOOLS / "axe-core" / "axe.min.js"))
    await settled(page)
    result = await page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in impacts]


# Endless animations (a spinner, a skeleton's shimmer) never finish and are not waited for; nor is anything
# for longer than two seconds.
SETTLE_SCRIPT = """async () => {
  const ending = document.getAnimations().filter(a => a.effect?.getComputedTiming().iterations !== Infinity);
  const timeout = new Promise(resolve => setTimeout(resolve, 2000));
  await Promise.race([Promise.allSettled(ending.map(a => a.finished)), timeout]);
  await new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}"""


async def settled(page: Page) -> None:
    """Waits for the page's running animations (a drawer sliding in, a route's fade) to end: a check made
    half-way through one judges a state nobody sees for longer than a frame."""
    await page.evaluate(SETTLE_SCRIPT)


async def assert_accessible(page: Page) -> None:
    """No serious or critical axe-core violation on the page. A violation seen once is checked again a moment
    later, so that what fails is what a person would meet, not a frame in the middle of a re-render; the
    failure names each node's markup and axe's reason."""
    violations = await axe_violations(page)
    if violations:
        await page.wait_for_timeout(500)
        violations = await axe_violations(page)
    assert not violations, [(v["id"], v["impact"], v["help"],
                             [(n["target"], n["html"][:300], n.get("failureSummary")) for n in v["nodes"][:3]])
                            for v in violations]


class ApiAnswers:
    """The bodies of every API answer (fetch or XHR under /api/) the page receives from now on. Each body is
    read as its answer comes in; a read still running when the page closes (the test is over) ends empty
    instead of raising into whichever test runs next."""

    def __init__(self, page: Page) -> None:
        self._reads: list[asyncio.Future[str]] = []
        page.on("response", self._keep)

    def _keep(self, response: Response) -> None:
        if "/api/" in response.url and response.request.resource_type in ("fetch", "xhr"):
            self._reads.append(asyncio.ensure_future(self._read(response)))

    @staticmethod
    async def _read(response: Response) -> str:
        try:
            return await response.text()
        except PlaywrightError as closed:
            if "closed" not in str(closed):
                raise
            return ""

    async def bodies(self) -> list[str]:
        return list(await asyncio.gather(*self._reads))


async def sign_in(page: Page, user_id: str, landing: str = "/leads") -> None:
    """Development sign-in as `user_id` (a roster member, or staff of DEV_STAFF), landing on `landing` (the
    app sends a visitor without a session to the login page and back)."""
    await page.goto(landing)
    await page.wait_for_url(re.compile(r"/login"))
    await page.get_by_label("坐席工号").fill(user_id)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(re.compile(re.escape(landing) + "$"))


async def allocator_lead(platform: Platform, lead_id: str) -> dict[str, Any]:
    """The lead as the allocator has it (read as admin, behind the browser's back)."""
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as http:
        answer = await http.get(f"/v1/leads/{lead_id}", headers=headers(platform.tenant, "browser-test", "admin"))
        answer.raise_for_status()
        return answer.json()  # type: ignore[no-any-return]


async def pooled_lead(platform: Platform, lead: dict[str, Any]) -> str:
    """`lead` sent to lead-intake as a web form would, once qualified and pooled by the allocator: its id."""
    service = headers(platform.tenant, "web-form", "service")
    async with httpx.AsyncClient(base_url=platform.url("lead-intake"), timeout=10) as intake:
        sent = await intake.post("/v1/leads", json=lead, headers=service)
        assert sent.status_code == 202, sent.text

        async def qualified() -> Any:
            answer = (await intake.get(sent.json()["status_url"], headers=service)).json()
            return answer.get("lead_id") if answer["status"] == "qualified" else None
        lead_id = str(await wait_until(qualified, 15.0, what="lead-intake qualified the lead"))
    admin = headers(platform.tenant, "browser-test", "admin")
    async with httpx.AsyncClient(base_url=platform.url("allocator"), timeout=10) as allocator:
        async def pooled() -> Any:
            return (await allocator.get(f"/v1/leads/{lead_id}", headers=admin)).status_code == 200
        await wait_until(pooled, 15.0, what="the allocator pooled the lead")
    return lead_id
