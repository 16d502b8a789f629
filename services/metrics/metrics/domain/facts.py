"""Facts: the events a batch applies, as the consumer reads them. For each consumed topic, the time its
events happened at (EVENT_TIME) and the fields of its data the counting rules read (READ_FIELDS: the
consumer parses only those); the counting settings (`Rules`); and the error of a rule failing on a fact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any
from zoneinfo import ZoneInfo

from telesales_contracts import topics as t

from .vocabulary import aware


class Fact:
    """One event to apply: its topic, tenant, id, own time (when it happened, in UTC) and data (the fields
    the rules read: a reading of its contract). A plain slotted class: one is made per event, and a frozen
    dataclass costs three times as much to make."""

    __slots__ = ("topic", "tenant", "event_id", "at", "data")

    def __init__(self, topic: str, tenant: str, event_id: str, at: datetime, data: Any) -> None:
        self.topic = topic
        self.tenant = tenant
        self.event_id = event_id
        self.at = at
        self.data = data

    def __repr__(self) -> str:
        return f"Fact({self.topic!r}, {self.tenant!r}, {self.event_id!r}, {self.at!r}, {self.data!r})"


class FactFailed(Exception):
    """A counting rule failed on this fact (a bug, or an event no rule foresaw)."""

    def __init__(self, fact: Fact, error: Exception) -> None:
        super().__init__(f"{fact.topic} {fact.event_id}: {type(error).__name__}: {error}")
        self.fact = fact
        self.error = error


@dataclass(frozen=True)
class Rules:
    tz: ZoneInfo
    effective_call_seconds: int = 60
    deep_call_seconds: int = 180


# The time each topic's events happened at: the path of their own field in the data (else the envelope's time).
EVENT_TIME: dict[str, str] = {
    t.LEADS_QUALIFIED.name: "touch.received_at",
    t.LEADS_MERGED.name: "touch.received_at",
    t.LEADS_REJECTED.name: "touch.received_at",
    t.LEADS_SIGNAL.name: "occurred_at",
    t.LEADS_DO_NOT_CALL.name: "changed_at",
    t.CALLS_LOGGED.name: "started_at",
    **{topic.name: "at" for topic in t.HOLDER_CHANGE_TOPICS},
    t.ALLOCATION_HOT_LEAD.name: "occurred_at",
    t.ALLOCATION_WIN_CONFIRMED.name: "confirmed_at",
    t.ALLOCATION_WIN_REJECTED.name: "rejected_at",
    t.LEDGER_TRANSFER_POSTED.name: "posted_at",
    t.LEDGER_TRANSFER_REJECTED.name: "rejected_at",
    t.LEDGER_COINS_ALLOCATED.name: "allocated_at",
    t.LEDGER_COINS_RECLAIMED.name: "reclaimed_at",
    t.LEDGER_COINS_REDEEMED.name: "redeemed_at",
    t.LEDGER_BONUS_AWARDED.name: "drawn_at",
    t.LEDGER_TRANSFER_RECORDED.name: "at",
    t.LEDGER_REALLOCATION_DECIDED.name: "decided_at",
    t.MARKETPLACE_TIP_SUBMITTED.name: "submitted_at",
    t.MARKETPLACE_TIP_REVIEWED.name: "reviewed_at",
    t.MARKETPLACE_TIP_LISTED.name: "listed_at",
    t.MARKETPLACE_TIP_DELISTED.name: "delisted_at",
    t.MARKETPLACE_PURCHASE_REQUESTED.name: "requested_at",
    t.MARKETPLACE_PURCHASE_COMPLETED.name: "completed_at",
    t.MARKETPLACE_PURCHASE_REFUSED.name: "refused_at",
    t.MARKETPLACE_TIP_VISITED.name: "visited_at",
    t.MARKETPLACE_LEARN_PROGRESSED.name: "at",
    t.MARKETPLACE_TIP_RATED.name: "rated_at",
    t.MARKETPLACE_TIP_FORWARDED.name: "forwarded_at",
    t.MARKETPLACE_DAILY_ACTIVE.name: "at",
    t.MARKETPLACE_DEEP_LEARNER_FLAGGED.name: "flagged_at",
    t.MARKETPLACE_STRUGGLE_RECOMMENDED.name: "recommended_at",
}


# The fields of each topic's data the counting rules read (their times included). The consumer parses only
# these (telesales_contracts Topic.reading): the whole contract costs several times more per event, and
# most of the service's time went there. A rule reading a field not named here fails its tests.
_HOLDER_FIELDS = ("lead_id", "agent_id", "team_id", "business_line", "at")
_TIP_FACTS = ("tip_id", "title", "stage", "author_id", "version", "product_line", "price")
READ_FIELDS: dict[str, tuple[str, ...]] = {
    t.AGENTS_CHANGED.name: ("agent_id", "role", "team_id", "business_line", "active"),
    t.AGENTS_GRADED.name: ("agent_id", "grade", "team_id"),
    t.LEADS_QUALIFIED.name: ("lead_id", "business_line", "channel", "touch"),
    t.LEADS_REJECTED.name: ("business_line", "channel", "touch"),
    t.LEADS_MERGED.name: ("lead_id", "touch"),
    t.ALLOCATION_ASSIGNED.name: _HOLDER_FIELDS,
    t.ALLOCATION_CLAIMED.name: _HOLDER_FIELDS,
    t.ALLOCATION_RETURNED.name: _HOLDER_FIELDS,
    t.ALLOCATION_RECLAIMED.name: (*_HOLDER_FIELDS, "kind"),
    t.ALLOCATION_CLOSED.name: (*_HOLDER_FIELDS, "do_not_call"),
    t.ALLOCATION_WON.name: (*_HOLDER_FIELDS, "amount_fen"),
    t.ALLOCATION_WIN_CONFIRMED.name: ("lead_id", "agent_id", "team_id", "business_line", "amount_fen", "confirmed_at"),
    t.ALLOCATION_WIN_REJECTED.name: ("lead_id", "agent_id", "team_id", "business_line", "rejected_at"),
    t.CALLS_LOGGED.name: ("lead_id", "agent_id", "started_at", "duration_seconds", "connected"),
    t.LEADS_STAGE_CHANGED.name: ("lead_id", "funnel_step", "agent_id"),
    t.LEADS_COMPLAINT.name: ("lead_id",),
    t.LEADS_DO_NOT_CALL.name: ("listed", "source", "changed_at"),
    t.LEADS_SIGNAL.name: ("lead_id", "kind", "occurred_at"),
    t.ALLOCATION_RECLAIM_WARNING.name: ("lead_id", "agent_id"),
    t.ALLOCATION_HOT_LEAD.name: ("lead_id", "agent_id", "kind", "occurred_at"),
    t.LEDGER_TRANSFER_POSTED.name: ("buyer_id", "price", "buyer_balance", "posted_at"),
    t.LEDGER_TRANSFER_REJECTED.name: ("reason", "rejected_at"),
    t.LEDGER_COINS_ALLOCATED.name: ("user_id", "amount", "allocated_at"),
    t.LEDGER_COINS_RECLAIMED.name: ("user_id", "amount", "reclaimed_at"),
    t.LEDGER_COINS_REDEEMED.name: ("coins", "yuan_fen", "redeemed_at"),
    t.LEDGER_BONUS_AWARDED.name: ("total", "drawn_at"),
    t.LEDGER_TRANSFER_RECORDED.name: ("state", "at"),
    t.LEDGER_REALLOCATION_DECIDED.name: ("decision", "decided_at"),
    t.MARKETPLACE_TIP_SUBMITTED.name: (*_TIP_FACTS, "submitted_at"),
    t.MARKETPLACE_TIP_REVIEWED.name: (*_TIP_FACTS, "decision", "reviewed_at"),
    t.MARKETPLACE_TIP_LISTED.name: (*_TIP_FACTS, "listed_at"),
    t.MARKETPLACE_TIP_DELISTED.name: ("tip_id", "version", "author_id", "delisted_at"),
    t.MARKETPLACE_PURCHASE_REQUESTED.name: ("buyer_id", "tip_id", "requested_at"),
    t.MARKETPLACE_PURCHASE_COMPLETED.name: ("buyer_id", "tip_id", "price", "completed_at"),
    t.MARKETPLACE_PURCHASE_REFUSED.name: ("reason", "refused_at"),
    t.MARKETPLACE_TIP_VISITED.name: ("user_id", "tip_id", "visited_at"),
    t.MARKETPLACE_LEARN_PROGRESSED.name: ("user_id", "tip_id", "learned", "rewatch", "rewatches", "at"),
    t.MARKETPLACE_TIP_RATED.name: ("user_id", "tip_id", "stars", "rated_at"),
    t.MARKETPLACE_TIP_FORWARDED.name: ("from_user_id", "tip_id", "forwarded_at"),
    t.MARKETPLACE_DAILY_ACTIVE.name: ("user_id", "at"),
    t.MARKETPLACE_DEEP_LEARNER_FLAGGED.name: ("user_id", "flagged_at"),
    t.MARKETPLACE_STRUGGLE_RECOMMENDED.name: ("step", "recommended_at"),
    t.DEAD_LETTERS.name: ("original_topic", "service"),
}


def fact_time(topic: str, data: Any, envelope_time: datetime | None) -> datetime:
    """When the event happened, in UTC: its own time field where the contract has one, else the envelope's
    (a reading parses the envelope's time only for the topics whose data has none)."""
    path = EVENT_TIME.get(topic)
    return aware(attrgetter(path)(data) if path is not None else envelope_time)  # type: ignore[arg-type]


def time_getter(topic: str) -> Callable[[Any], datetime]:
    """The getter of the time fact_time reads, from the event as its reading parsed it (not yet in UTC)."""
    path = EVENT_TIME.get(topic)
    return attrgetter("time" if path is None else f"data.{path}")
