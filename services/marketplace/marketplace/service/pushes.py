"""The struggle push by itself: a call that ends without progress at an objection (calls.logged.v1) and an
agent's funnel leaking at a step over the rolling window (the periodic job, struggle_job.py) each push the
best-rated tip of that stage the agent neither owns, wrote nor was recommended recently, at most
PUSH_DAILY_CAP a day, on marketplace.struggle-recommended.v1 (the outbox). A trigger pushes once: the push's
id comes from the trigger's id (the call event's id; the agent and day for the window)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta

from prometheus_client import Counter

from telesales_contracts.activity import CallLogged
from telesales_contracts.marketplace import CallStage, FunnelStep, RecommendedTip, StruggleRecommended, StruggleTrigger
from telesales_contracts.topics import CALLS_LOGGED, MARKETPLACE_STRUGGLE_RECOMMENDED
from telesales_runtime.consumer import Delivery
from telesales_runtime.observability import MESSAGES_CONSUMED

from ..domain import Announcement, Struggle, business_day, struggle
from ..domain.struggle import NoPush, Push, call_struggle, push_id, window_trigger
from ..settings import MarketplaceSettings
from ..store import Doc, Unit, WrittenMeanwhile
from .context import MarketplaceService, utcnow

log = logging.getLogger(__name__)

PUSHES = Counter("marketplace_struggle_pushes_total", "Struggle pushes by trigger and result (pushed, daily_cap, "
                 "no_tip, duplicate).", ["trigger", "result"])


async def push(*, market: MarketplaceService, tenant: str, agent_id: str, stage: CallStage, trigger: StruggleTrigger,
               trigger_id: str, team_id: str | None = None, found: Struggle | None = None,
               inbox_event_id: str | None = None) -> str:
    """Push the tip of `stage` for the agent once per `trigger_id`: 'pushed', 'daily_cap', 'no_tip' or
    'duplicate' (this trigger pushed already). `inbox_event_id`: the consumed event to record with it."""
    settings, now = market.settings, utcnow()
    day = business_day(now, market.tz)
    listed = await market.store.queries.listed_of_stage(tenant, stage.value, 500)

    async def work(unit: Unit) -> str:
        result = await _push_in(unit, agent_id=agent_id, stage=stage, trigger=trigger, trigger_id=trigger_id,
                                team_id=team_id, found=found, listed=listed, day=day, now=now, settings=settings)
        if inbox_event_id is not None:
            await unit.record_answer(inbox_event_id, {"status": result, "agent_id": agent_id, "stage": stage.value})
        return result

    async def attempt() -> str:
        if inbox_event_id is None:
            return await market.commit(tenant, work)
        result, written = await market.store.commit_consumed(tenant, settings.source, (tenant, inbox_event_id), work)
        if written:
            market.notify_outbox()
        return result or "duplicate"

    try:
        result = await attempt()
    except WrittenMeanwhile:  # a concurrent push of the same trigger, or the agent's first count of the day
        result = await attempt()
    PUSHES.labels(trigger.value, result).inc()
    return result


async def _push_in(unit: Unit, *, agent_id: str, stage: CallStage, trigger: StruggleTrigger, trigger_id: str,
                   team_id: str | None, found: Struggle | None, listed: list[Doc], day: str, now: datetime,
                   settings: MarketplaceSettings) -> str:
    recommendation_id = push_id(unit.tenant, trigger_id)
    if await unit.pushed(recommendation_id):
        return "duplicate"
    pushes = await unit.agent_pushes(agent_id, day, now - timedelta(days=settings.push_repeat_days))
    decision = pushes.push(tenant=unit.tenant, trigger_id=trigger_id, stage=stage, listed_of_stage=listed,
                           daily_cap=settings.push_daily_cap)
    if isinstance(decision, NoPush):
        return decision.value
    data = _recommended(decision, agent_id=agent_id, team_id=team_id, trigger=trigger, trigger_id=trigger_id,
                        found=found, now=now)
    await unit.save_recommendation(data)
    await unit.count_push(agent_id, day)
    unit.announce(Announcement(MARKETPLACE_STRUGGLE_RECOMMENDED, data, agent_id))
    return "pushed"


def _recommended(decision: Push, *, agent_id: str, team_id: str | None, trigger: StruggleTrigger, trigger_id: str,
                 found: Struggle | None, now: datetime) -> StruggleRecommended:
    t = decision.tip
    tip = RecommendedTip(tip_id=t["tip_id"], version=t["listed_version"], title=t["title"], price=t["price"],
                         rating=t.get("rating_avg"), ratings=t.get("rating_count", 0))
    rates = {} if found is None else {"step": found.step, "agent_rate": found.agent_rate,
                                      "team_rate": found.team_rate, "gap": found.gap}
    return StruggleRecommended(recommendation_id=decision.recommendation_id, agent_id=agent_id, team_id=team_id,
                               trigger=trigger, trigger_id=trigger_id, stage=decision.stage, tips=[tip],
                               recommended_at=now, **rates)


async def handle_calls(deliveries: Sequence[Delivery], *, market: MarketplaceService) -> None:
    """Note each agent's latest call (whom the window's job looks at); push for each call that ended without
    progress at a stage that pushes (once per call event: the inbox)."""
    latest: dict[tuple[str, str], datetime] = {}
    stalled: list[tuple[Delivery, CallStage]] = []
    for delivery in deliveries:
        call: CallLogged = delivery.event.data
        key = (delivery.event.tenantid, call.agent_id)
        latest[key] = max(latest.get(key, call.started_at), call.started_at)
        stage = call_struggle(call.stage_reached, call.outcome, market.settings.push_on_call_stages)
        if stage is not None:
            stalled.append((delivery, stage))
    await market.store.note_callers(latest)
    done = await market.store.inbox.processed([d.key for d, _ in stalled])
    for delivery, stage in stalled:
        if delivery.key in done:
            continue
        result = await push(market=market, tenant=delivery.event.tenantid, agent_id=delivery.event.data.agent_id,
                            stage=stage, trigger=StruggleTrigger.CALL, trigger_id=delivery.event.id,
                            inbox_event_id=delivery.event.id)
        log.debug("call struggle", extra={"event_id": delivery.event.id, "result": result})
    MESSAGES_CONSUMED.labels(market.settings.service_name, CALLS_LOGGED.name, "processed").inc(len(deliveries))


async def push_from_window(*, market: MarketplaceService, tenant: str, agent_id: str, team_id: str | None,
                           agent: dict[FunnelStep, float], team: dict[FunnelStep, float], day: date) -> str:
    """Push for the step where the agent's funnel leaks most against its team's over the window (once a day
    per agent); 'no_leak' when it leaks nowhere."""
    found = struggle(agent, team, market.settings.stage_of_step)
    if found is None:
        return "no_leak"
    return await push(market=market, tenant=tenant, agent_id=agent_id, stage=found.stage,
                      trigger=StruggleTrigger.WINDOW, trigger_id=window_trigger(agent_id, day.isoformat()),
                      team_id=team_id, found=found)


async def window_pushed_today(*, market: MarketplaceService, tenant: str, agent_id: str, day: date) -> bool:
    """Whether the window pushed (or tried to push) for the agent today: no need to ask metrics again."""
    return await market.store.unit(tenant).pushed(push_id(tenant, window_trigger(agent_id, day.isoformat())))
