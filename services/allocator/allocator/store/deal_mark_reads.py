"""Reads of deal-in-progress marks (read side, apart from the writes in lead_writes.py): a team's held leads
whose mark waits for its supervisor or is approved, oldest request first. A partial index keeps the walk to
the leads that carry a mark at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel

from ..domain.lead import HELD
from .roster import StoreBase

Doc = dict[str, Any]

# The fields a row of the list shows, and those its reclaim clock needs (reclaim_clock.held_lead_facts).
DEAL_MARK_ROW: dict[str, int] = {field: 1 for field in (
    "tenant_id", "name", "phone_e164", "status", "holder", "holder_team", "pool_id", "stage_percent", "held_since",
    "awaiting_first_call", "progress_at", "deal_mark", "dial_streak_at")}

# A team's marks in the order the list shows them; `deal_mark.status` exists only on leads that have a mark.
MARKS_OF_TEAM = [("tenant_id", ASCENDING), ("holder_team", ASCENDING), ("deal_mark.status", ASCENDING),
                 ("deal_mark.requested_at", ASCENDING), ("_id", ASCENDING)]


class DealMarkReads(StoreBase):
    async def ensure_deal_mark_indexes(self) -> None:
        await self.leads.create_indexes([
            IndexModel(MARKS_OF_TEAM, name="deal_marks_of_team",
                       partialFilterExpression={"status": HELD, "deal_mark.status": {"$exists": True}}),
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
        return await self.leads.find(query, DEAL_MARK_ROW, sort=[("deal_mark.requested_at", ASCENDING),
                                                                  ("_id", ASCENDING)], limit=limit).to_list()
