"""The reclaim clock of a held lead, as its holder should see it: when the lead goes back to the pool
unless the holder acts, and which act stops (or restarts) that clock.

The rule itself is `domain.reclaim_schedule`, the one the sweep applies; this module only reads a lead
document into the facts that rule needs, and the sweep reads leads through it too, so the sweep and the
HTTP views judge a lead the same way. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from telesales_contracts.allocation import ReclaimKind

from .domain import AllocationPolicy, HeldLeadFacts, ReclaimSchedule, deal_mark_expiry, reclaim_schedule
from .domain.lead import HELD

Unless = Literal["call", "advance_stage"]

# What the holder can do about each deadline: an effective call by the holder ends the not-processed clock
# for good (the not-converted one remains); moving the stage forward restarts the not-converted clock and the
# dial streak.
UNLESS: dict[ReclaimKind, Unless] = {ReclaimKind.NOT_PROCESSED: "call", ReclaimKind.NOT_CONVERTED: "advance_stage",
                                     ReclaimKind.DIALLED_WITHOUT_CONVERTING: "advance_stage"}


@dataclass(frozen=True, slots=True)
class ReclaimClock:
    kind: ReclaimKind
    at: datetime
    warn_at: datetime
    unless: Unless


def held_lead_facts(lead: Mapping[str, Any]) -> HeldLeadFacts | None:
    """What the reclaim rule needs to know of a lead document; None unless it is held."""
    if lead.get("status") != HELD or lead.get("held_since") is None:
        return None
    return HeldLeadFacts(pool_id=lead["pool_id"], stage_percent=lead.get("stage_percent", 0),
                         # awaiting_first_call: no effective call by the holder yet (domain.lead.record_calls)
                         held_since=lead["held_since"], called_since_held=not lead.get("awaiting_first_call"),
                         # progress_at: the hold's start or the last forward stage move during it
                         stage_advanced_at=lead.get("progress_at"),
                         protected_until=deal_mark_expiry(lead.get("deal_mark")),
                         dial_streak_at=lead.get("dial_streak_at"))


def schedule_of(lead: Mapping[str, Any], policy: AllocationPolicy) -> ReclaimSchedule | None:
    """The reclaim schedule of a lead document (the sweep's judgement); None when not held or exempt."""
    facts = held_lead_facts(lead)
    return None if facts is None else reclaim_schedule(facts, policy)


def reclaim_clock(lead: Mapping[str, Any], policy: AllocationPolicy) -> ReclaimClock | None:
    """When the held lead is reclaimed, why, and what act of the holder stops that; None when the lead is
    not held or no rule applies (rules that never reclaim); under an approved deal-in-progress mark, not
    before the mark expires."""
    schedule = schedule_of(lead, policy)
    if schedule is None:
        return None
    return ReclaimClock(kind=schedule.kind, at=schedule.reclaim_at, warn_at=schedule.warn_at,
                        unless=UNLESS[schedule.kind])
