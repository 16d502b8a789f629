"""The struggle push: the funnel step an agent lags its team at most, and the best-rated tips of its call
stage the agent has not bought (nor written), announced on marketplace.struggle-recommended.v1."""

from __future__ import annotations

import uuid

from telesales_contracts.marketplace import FunnelStep, RecommendedTip, StruggleRecommended
from telesales_contracts.topics import MARKETPLACE_STRUGGLE_RECOMMENDED

from ..domain import Announcement, best_rated, struggle
from ..store import Doc, Unit
from .context import MarketplaceService, utcnow


async def recommend(*, market: MarketplaceService, tenant: str, agent_id: str, team_id: str | None,
                    agent: dict[FunnelStep, float], team: dict[FunnelStep, float]) -> Doc:
    settings, queries = market.settings, market.store.queries
    found = struggle(agent, team, settings.stage_of_step)
    if found is None:
        return {"agent_id": agent_id, "step": None, "stage": None, "tips": [], "recommendation_id": None}
    candidates = [t for t in await queries.listed_of_stage(tenant, found.stage.value, 500)
                  if t["author_id"] != agent_id]
    owned = await queries.owned_tip_ids(tenant, agent_id)
    tips = [RecommendedTip(tip_id=t["tip_id"], version=t["listed_version"], title=t["title"], price=t["price"],
                           rating=t.get("rating_avg"), ratings=t.get("rating_count", 0))
            for t in best_rated(candidates, owned, settings.recommend_limit)]
    data = StruggleRecommended(recommendation_id=uuid.uuid4().hex, agent_id=agent_id, team_id=team_id,
                               step=found.step, agent_rate=found.agent_rate, team_rate=found.team_rate,
                               gap=found.gap, stage=found.stage, tips=tips, recommended_at=utcnow())

    async def work(unit: Unit) -> Doc:
        await unit.save_recommendation(data)
        unit.announce(Announcement(MARKETPLACE_STRUGGLE_RECOMMENDED, data, agent_id))
        return data.model_dump(mode="json")

    return await market.commit(tenant, work)


async def latest_recommendation(*, market: MarketplaceService, tenant: str, agent_id: str) -> Doc | None:
    return await market.store.queries.latest_recommendation(tenant, agent_id)
