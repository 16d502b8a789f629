"""A claim's writes: which pooled leads a claim may take (as a filter), and the update pipeline that gives
a group's leads to their claimers, each with its hold record, history entry and `allocation.claimed.v1`
event built on the server from the lead, in the same single-document write (claims.py orchestrates)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telesales_contracts.topics import ALLOCATION_CLAIMED

from .. import history
from ..domain import AgentFacts, Tier
from ..domain.lead import POOLED
from .lead_writes import Doc, hold_fields
from .tier_queries import tier_query

CLAIMED_VIA = "claimed"


def claimable_query(tenant: str, pools: list[str], tier: Tier, now: datetime) -> Doc:
    """Pooled leads of the tier in these pools that are not resting (the agent's own drops are left
    out when the leads are split, see `domain.dropped_recently`)."""
    return {"tenant_id": tenant, "status": POOLED, "pool_id": {"$in": pools}, **tier_query(tier.filter),
            "rest_until": {"$not": {"$gt": now}}}


def claim_pipeline(tenant: str, source: str, tier_id: str, claims: dict[str, dict[str, Any]], now: datetime
                   ) -> list[Doc]:
    """The update of a group: each lead gets its own claimer's fields (looked up by the lead's _id in
    `claims`), its hold record, and its `allocation.claimed.v1` event built on the server from the lead,
    appended to the lead's embedded outbox in the same single-document write."""
    lead_ids = list(claims)
    infos = [claims[lead_id] for lead_id in lead_ids]
    return claim_stages(tenant, source, tier_id, {"$arrayElemAt": [
        {"$literal": infos}, {"$indexOfArray": [{"$literal": lead_ids}, "$_id"]}]}, now)


def claim_stages(tenant: str, source: str, tier_id: str, claim: Doc, now: datetime) -> list[Doc]:
    """The claim's update pipeline, the claimer's fields coming from the expression `claim`."""
    me = "$_claim"
    data = {"lead_id": "$_id", "agent_id": f"{me}.agent_id", "team_id": f"{me}.team_id",
            "agent_grade": f"{me}.grade", "business_line": "$business_line", "pool_id": "$pool_id",
            "score": "$score", "lead_grade": "$lead_grade", "at": now, "tier_id": {"$literal": tier_id}}
    envelope = {"specversion": "1.0", "id": f"{me}.event_id", "source": {"$literal": source},
                "type": {"$literal": ALLOCATION_CLAIMED.event_type}, "time": now,
                "datacontenttype": "application/json", "tenantid": {"$literal": tenant}, "subject": "$_id",
                "data": data}
    event = {"id": f"{me}.event_id", "topic": {"$literal": ALLOCATION_CLAIMED.name}, "key": "$_id",
             "envelope": envelope}
    hold = {"agent_id": f"{me}.agent_id", "grade": f"{me}.grade", "team_id": f"{me}.team_id",
            "via": {"$literal": CLAIMED_VIA}, "at": now}
    return [
        {"$set": {"_claim": claim}},
        {"$set": {
            **hold_fields(f"{me}.agent_id", f"{me}.team_id", f"{me}.grade", {"$literal": CLAIMED_VIA}, now),
            "claim_id": f"{me}.claim_id",
            "previous_holders": {"$setUnion": [{"$ifNull": ["$previous_holders", []]}, [f"{me}.agent_id"]]},
            "holds": {"$concatArrays": [{"$ifNull": ["$holds", []]}, [hold]]},
            **history.appended_in_pipeline([{**history.literal(history.holder_change(
                CLAIMED_VIA, None, now, via=tier_id)), "agent_id": f"{me}.agent_id"}]),
            "outbox": {"$concatArrays": [{"$ifNull": ["$outbox", []]}, [event]]},
            "outbox_at": now,
        }},
        {"$unset": "_claim"},
    ]


def not_dropped_by(agent_id: str, cooldown_days: float | None, now: datetime) -> Doc:
    """`domain.dropped_recently` as a filter: leads this agent may claim."""
    if cooldown_days is None:
        return {"dropped_by": {"$ne": agent_id}}
    cutoff = now - timedelta(days=cooldown_days)
    return {"drops": {"$not": {"$elemMatch": {"agent_id": agent_id, "at": {"$gt": cutoff}}}}}


def as_claimed(lead: Doc, agent: AgentFacts, claim_id: str, now: datetime) -> Doc:
    """A lead as read before a claim that took it, with the fields that claim set (for the answer; the
    event was built from the stored lead by the write itself)."""
    return {**lead, **hold_fields(agent.agent_id, agent.team_id, agent.grade, CLAIMED_VIA, now), "claim_id": claim_id}
