"""What buyers and browsers do with a tip: visit, learn, rate, forward. Each counts on the tip, is
announced, and marks the user's first activity of the day."""

from __future__ import annotations

import uuid
from dataclasses import asdict

from telesales_contracts.marketplace import ActivityKind

from ..domain import Actor, DailyActive, DomainError, LearnReport, check_bought, check_forward_target, purchase_id
from ..domain.learning import learn_step
from ..store import Doc, Unit, WrittenMeanwhile
from .context import MarketplaceService, utcnow


async def visit(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str) -> Doc:
    now = utcnow()

    async def work(unit: Unit) -> Doc:
        count, event = (await unit.tip(tip_id)).visit(actor.user_id, now)
        await unit.count(count)
        unit.announce(event)
        await unit.daily_active(DailyActive.of(actor.user_id, ActivityKind.VISIT, now, market.tz))
        return {"tip_id": tip_id, "user_id": actor.user_id, "visited_at": now}

    return await market.commit(tenant, work)


async def _check_bought(unit: Unit, user_id: str, tip_id: str) -> None:
    check_bought(await unit.purchase(purchase_id(user_id, tip_id)))


async def learn(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, report: LearnReport) -> Doc:
    """Record a buyer's progress and watch time on a tip; a tip reaching the completion threshold counts
    as learned; a user with enough tips learned and watch time is flagged a deep learner, once."""
    user, settings = actor.user_id, market.settings
    now = utcnow()

    async def work(unit: Unit) -> Doc:
        await _check_bought(unit, user, tip_id)
        step = learn_step(user, tip_id, await unit.learning(user, tip_id), report, settings.learned_at_percent, now)
        await unit.save_learning(step.save)
        await unit.count(step.tip_counts)
        learner = await unit.count_learner(step.learner)
        flagged = learner.flag_if_deep(settings.deep_learner_min_tips, settings.deep_learner_min_seconds, now)
        if flagged is not None:
            learner, flag, event = flagged
            await unit.flag_learner(flag)
            unit.announce(event)
        unit.announce(step.progressed(report.session_id, now))
        await unit.daily_active(DailyActive.of(user, ActivityKind.LEARN, now, market.tz))
        after = step.after
        return {"tip_id": tip_id, "user_id": user, "progress_percent": after.progress_percent,
                "watched_seconds": after.watched_seconds, "learned": after.learned, "rewatches": after.rewatches,
                "rewatch": step.rewatch, "tips_learned": learner.tips_learned,
                "total_watched_seconds": learner.watched_seconds, "deep_learner": learner.flagged_at is not None}

    return await market.commit(tenant, work)


async def rate(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, stars: int,
               comment: str | None) -> Doc:
    """A buyer rates the listed version, once per version."""
    user = actor.user_id
    now = utcnow()

    async def work(unit: Unit) -> Doc:
        await _check_bought(unit, user, tip_id)
        rating, event = (await unit.tip(tip_id)).rate(user, stars, comment, now)
        await unit.add_rating(rating)
        unit.announce(event)
        await unit.daily_active(DailyActive.of(user, ActivityKind.RATE, now, market.tz))
        return asdict(rating)

    try:
        return await market.commit(tenant, work)
    except WrittenMeanwhile as error:  # the same rating committed concurrently
        raise DomainError("already_rated", "you rated this version of the tip already") from error


async def forward(*, market: MarketplaceService, tenant: str, actor: Actor, tip_id: str, to_user_id: str,
                  note: str | None) -> Doc:
    check_forward_target(actor.user_id, to_user_id)
    now = utcnow()

    async def work(unit: Unit) -> Doc:
        forwarded, event = (await unit.tip(tip_id)).forward(uuid.uuid4().hex, actor.user_id, to_user_id, note, now)
        await unit.add_forward(forwarded)
        unit.announce(event)
        await unit.daily_active(DailyActive.of(actor.user_id, ActivityKind.FORWARD, now, market.tz))
        return asdict(forwarded)

    return await market.commit(tenant, work)
