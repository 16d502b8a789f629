"""Reads of a supervisor's team view (read side, apart from the writes in lead_writes.py): a team's held
leads whose deal-in-progress mark waits for its supervisor or is approved, oldest request first; and the
pooled leads of the team's push pools that the push on arrival could not place, latest first. Partial
indexes keep each walk to the leads concerned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel

from ..domain.lead import HELD, POOLED
from .roster import StoreBase

Doc = dict[str, Any]

# The fields a row of the list shows, and those its reclaim clock needs (reclaim_clock.held_lead_facts).
DEAL_MARK_ROW: dict[str, int] = {field: 1 for field in (
    "tenant_id", "name", "phone_e164", "status", "holder", "holder_team", "pool_id", "stage_percent", "held_since",
    "awaiting_first_call", "progress_at", "deal_mark", "dial_streak_at")}

# A team's marks in the order the list shows them; `deal_mark.status` exists only on leads that have a mark.
MARKS_OF_TEAM = [("tenant_id", ASCENDING), ("holder_team", ASCENDING), ("deal_mark.status", ASCENDING),
                 ("deal_mark.requested_at", ASCENDING), ("_id", ASCENDING)]
# Unplaced leads of some pools, latest miss first; `push_missed.at` exists only while a miss is noted.
MISSED_OF_POOLS = [("tenant_id", ASCENDING), ("pool_id", ASCENDING), ("push_missed.at", DESCENDING),
                   ("_id", ASCENDING)]
MISSED = {"status": POOLED, "push_missed.at": {"$exists": True}}


class TeamReads(StoreBase):
    async def ensure_team_read_indexes(self) -> None:
        await self.leads.create_indexes([
            IndexModel(MARKS_OF_TEAM, name="deal_marks_of_team",
                       partialFilterExpression={"status": HELD, "deal_mark.status": {"$exists": True}}),
            IndexModel(MISSED_OF_POOLS, name="push_missed_of_pool", partialFilterExpression=MISSED),
        ])

    async def team_deal_marks(self, tenant: str, team_id: str, status: str, *, not_expired_at: datetime | None,
                              limit: int, after: tuple[datetime, str] | None) -> list[Doc]:
        """Held leads of `team_id` whose mark is `status`, oldest request first (after `after`: the previous
        page's last request time and lead id); with `not_expired_at`, only marks that expire after then."""
        query: Doc = {"tenant_id": tenant, "holder_team": team_id, "status": HELD, "deal_mark.status": status}
        if not_expired_at is not None:
            query["deal_mark.expires_at"] = {"$gt": not_expired_at}
        if after is not None:
            at, lead_id = after
            query["$or"] = [{"deal_mark.requested_at": {"$gt": at}},
                            {"deal_mark.requested_at": at, "_id": {"$gt": lead_id}}]
        return self.sealing.open_all(await self.leads.find(query, DEAL_MARK_ROW, sort=[
            ("deal_mark.requested_at", ASCENDING), ("_id", ASCENDING)], limit=limit).to_list(), tenant)

    async def push_missed(self, tenant: str, pool_ids: Sequence[str], projection: Doc, *, limit: int,
                          after: tuple[datetime, str] | None) -> tuple[list[Doc], int]:
        """Pooled leads of `pool_ids` a push could not place, latest miss first (after `after`: the previous
        page's last miss time and lead id), and how many there are in all."""
        query: Doc = {"tenant_id": tenant, "pool_id": {"$in": list(pool_ids)}, **MISSED}
        total = await self.leads.count_documents(query)
        if after is not None:
            at, lead_id = after
            query["$or"] = [{"push_missed.at": {"$lt": at}}, {"push_missed.at": at, "_id": {"$gt": lead_id}}]
        docs = await self.leads.find(query, projection, sort=[("push_missed.at", DESCENDING), ("_id", ASCENDING)],
                                     limit=limit).to_list()
        return self.sealing.open_all(docs, tenant), total
