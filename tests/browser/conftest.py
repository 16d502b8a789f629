"""Browser tests: the whole platform as real processes, as `make up` runs it (the six services under
uvicorn, each in a database and consumer group of its own, on a Kafka node of their own and the session's
MongoDB and Redis), the console serving its built web app, a small floor seeded through the public
interfaces (telesales_tools.floor), and Debian's Chromium driven headless by Playwright. Screenshots of what
the tests saw are kept in test-artifacts/browser/."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    OPERATOR_ID,
    READY_TIMEOUT_S,
    SERVICES,
    WEB_DIST,
    Platform,
    new_context,
    service_env,
    sign_in,
    tenant_of,
)
from telesales_testkit.bench import ServiceProcess
from telesales_testkit.infra import Infra, PrivateBroker, free_port
from telesales_tools.floor import seed_floor
from telesales_tools.platform import Endpoints, Publisher, close_apis, open_apis


@pytest.fixture(scope="session")
async def platform(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Platform]:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail(f"the console's web app is not built ({WEB_DIST}): run `make web` (install.sh does)")
    run = uuid.uuid4().hex[:8]
    logs = tmp_path_factory.mktemp("browser-logs")
    # A broker of its own: these services consume every tenant's events, and on the session's broker they
    # would also take up the in-process services' test leads (a second qualification of the same lead).
    broker = PrivateBroker(logs, partitions=3)
    broker.start()
    infra = Infra(broker.bootstrap, infra.mongo_uri, infra.redis_url)
    ports = {name: free_port() for name, _, _ in SERVICES}
    processes = {name: ServiceProcess(name, f"{package}.main:create_app_from_env", ports[name], logs / f"{name}.log",
                                      env=service_env(name, package, prefix, run, ports))
                 for name, package, prefix in SERVICES}
    try:
        for process in processes.values():
            process.start(infra.as_env())
        async with httpx.AsyncClient() as http:
            await asyncio.gather(*(p.wait_ready(http, READY_TIMEOUT_S) for p in processes.values()))
        tenant = tenant_of(run)
        endpoints = Endpoints(kafka_bootstrap=infra.kafka_bootstrap,
                              urls={name: processes[name].base_url for name, _, _ in SERVICES})
        apis = open_apis(endpoints, tenant)
        try:
            async with Publisher(infra.kafka_bootstrap) as publisher:
                floor = await seed_floor(apis, publisher, tenant=tenant, run=run, leads=12)
        finally:
            await close_apis(apis)
        yield Platform(run, tenant, infra, processes, floor)
    finally:
        for process in processes.values():
            process.stop()
        broker.remove()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's chromium (install.sh does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def context(browser: Browser, platform: Platform) -> AsyncIterator[BrowserContext]:
    context = await new_context(browser, platform)
    yield context
    await context.close()


@pytest.fixture
async def page(context: BrowserContext) -> AsyncIterator[Page]:
    page = await context.new_page()
    yield page
    await page.close()


@pytest.fixture
async def operator_page(browser: Browser, platform: Platform) -> AsyncIterator[Page]:
    """A page signed in as an operator (staff the console signs in without a roster record, DEV_STAFF), on the
    access-log page; its context lets axe-core in (bypass_csp), for the accessibility check."""
    context = await new_context(browser, platform, bypass_csp=True)
    page = await context.new_page()
    await sign_in(page, OPERATOR_ID, landing="/access-log")
    yield page
    await context.close()
