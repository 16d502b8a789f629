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
from .calls_plan import weak_stage
from .platform import Api, Publisher, event_bytes

SOURCE = {"hr": "/demo/hr", "web": "/demo/web", "dialer": "/demo/dialer", "service": "/demo/service-desk"}
OPERATOR, REVIEWER = "ops-1", "reviewer-1"


@dataclass
class Held:
    lead_id: str
    customer: sc.Customer | None
    neglected: bool  # the agent never gets round to it: the reclaim sweep takes it back
    phone: str | None = None  # E.164, as the allocator gives it to the holder
    step: int = -1  # index in sc.STEPS reached
    dials: int = 0
    connects: int = 0
    done: bool = False
    rests_until: int = 0  # the tick before which the agent does not try it again (contact pressure)


@dataclass
class Listing:
    """A number put on the do-not-call list during the day, and what became of its lead."""

    phone: str
    lead_id: str
    source: str  # complaint | operator
    holder: str | None  # who held the lead when it was listed (None: it was in a public pool)
    listed_at: float  # wall clock (monotonic)
    tried: bool = False  # a later dial was asked for
    status: str | None = None  # the lead's status in the allocator at the end of the day


@dataclass
class Desk:
    agent: sc.Agent
    held: dict[str, Held] = field(default_factory=dict)
    refreshed: int = 0
    weak: str | None = None  # the call stage the agent is weak at (calls_plan.weak_stage)
    stalled: bool = False  # a call ended at an objection without progress since the agent last looked
    pushes_seen: set[str] = field(default_factory=set)  # struggle pushes the agent has read

    def open_leads(self) -> list[Held]:
        return [h for h in self.held.values() if not h.done]


class DayState:
    """What the day's actors share; Day (demo.py) plays it."""

    def __init__(self, plan: sc.Scenario, apis: dict[str, Api], publisher: Publisher, tenant: str, minutes: float,
                 console: Console) -> None:
        self.plan, self.apis, self.publisher, self.tenant, self.console = plan, apis, publisher, tenant, console
        self.clock = plan.clock
        self.tick_seconds = minutes * 60 / self.clock.ticks
        self.desks = {a.agent_id: Desk(a, weak=weak_stage(plan.seed, a)) for a in plan.agents}
        self.count: Counter[str] = Counter()
        self.pending: list[asyncio.Future[Any]] = []
        self.purchases: dict[tuple[str, str], int] = {}  # (buyer, tip) -> tick to look at it again
        self.learned: Counter[str] = Counter()
        self.pushed_purchases: set[tuple[str, str]] = set()  # (buyer, tip) bought after a struggle push
        self.listings: list[Listing] = []  # numbers put on the do-not-call list during the day
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
