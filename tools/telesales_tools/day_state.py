"""The shared state of a simulated call-center day (`make demo`): the plan, the service APIs, the clock's
tick, what was sent so far, and how events are emitted at simulated times. The floor (desks.py) and the
marketplace (tips_market.py) act on it; demo.py plays the day."""

from __future__ import annotations

import asyncio
import time as wallclock
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from rich.console import Console

from . import scenario as sc
from .platform import Api, Publisher, event_bytes

SOURCE = {"hr": "/demo/hr", "web": "/demo/web", "dialer": "/demo/dialer"}
OPERATOR, REVIEWER = "ops-1", "reviewer-1"


@dataclass
class Held:
    lead_id: str
    customer: sc.Customer | None
    neglected: bool  # the agent never gets round to it: the reclaim sweep takes it back
    step: int = -1  # index in sc.STEPS reached
    dials: int = 0
    connects: int = 0
    done: bool = False


@dataclass
class Desk:
    agent: sc.Agent
    held: dict[str, Held] = field(default_factory=dict)
    refreshed: int = 0

    def open_leads(self) -> list[Held]:
        return [h for h in self.held.values() if not h.done]


class DayState:
    """What the day's actors share; Day (demo.py) plays it."""

    def __init__(self, plan: sc.Scenario, apis: dict[str, Api], publisher: Publisher, tenant: str, minutes: float,
                 console: Console) -> None:
        self.plan, self.apis, self.publisher, self.tenant, self.console = plan, apis, publisher, tenant, console
        self.clock = plan.clock
        self.tick_seconds = minutes * 60 / self.clock.ticks
        self.desks = {a.agent_id: Desk(a) for a in plan.agents}
        self.count: Counter[str] = Counter()
        self.pending: list[asyncio.Future[Any]] = []
        self.purchases: dict[tuple[str, str], int] = {}  # (buyer, tip) -> tick to look at it again
        self.learned: Counter[str] = Counter()
        self.tick = 0
        self.started = wallclock.monotonic()
        self.last_progress = 0.0

    # ---- plumbing ------------------------------------------------------------------------------------------------

    def rng(self, *parts: object) -> Any:
        return sc.rng(self.plan.seed, *parts)

    async def emit(self, topic: str, data: dict[str, Any], *, source: str, key: str | None, at: datetime,
                   event_id: str | None = None) -> None:
        _, payload = event_bytes(topic, data, tenant=self.tenant, source=source, time=at, event_id=event_id)
        self.pending.append(await self.publisher.send(topic, payload, key))

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        await asyncio.gather(*pending)

    async def each(self, items: Any, action: Callable[[Any], Awaitable[None]]) -> None:
        await asyncio.gather(*(action(item) for item in items))

    def sim_now(self, offset_minutes: float = 0.0) -> datetime:
        return self.clock.at(self.tick) + timedelta(minutes=offset_minutes)
