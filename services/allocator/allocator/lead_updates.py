"""The updates a lead gets from its agent's actions and from outside events (release to the pool, stage
moves, calls, signals), each with the history entry that records it in the same single-document write.
Pure: builds update documents and pipelines from the lead as read and the domain's rules; store.py
writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telesales_contracts.activity import FUNNEL_ORDER, LeadStageChanged

from . import domain, history
from .domain import AllocationPolicy
from .store import HELD, POOLED, Doc


def release_fields(lead: Doc, agent_id: str, now: datetime, *, counts_as_drop: bool, entry: Doc) -> tuple[Doc, int]:
    """The update of a lead going back to its public pool from `agent_id` (recorded as `entry`), and its
    drop count after."""
    dropped_by = list(lead.get("dropped_by") or [])
    if counts_as_drop and agent_id not in dropped_by:
        dropped_by.append(agent_id)
    update: Doc = {"$set": {"status": POOLED, "holder": None, "holder_team": None, "holder_grade": None,
                            "held_since": None, "held_via": None, "awaiting_first_call": None,
                            "progress_at": None, "warned_for": None, "last_holder": agent_id,
                            "dropped_by": dropped_by, "drop_count": len(dropped_by), "updated_at": now}}
    if counts_as_drop:
        update["$push"] = {"drops": {"agent_id": agent_id, "at": now}}
    return history.with_history(update, [entry]), len(dropped_by)


def stage_update(lead: Doc, change: LeadStageChanged, now: datetime) -> tuple[Doc, list[Doc]]:
    """The change as an update pipeline, judged against the lead as it is when written: only moving
    forward restarts the not-converted clock, and the funnel step never moves back (a late or
    repeated event cannot undo progress)."""
    advanced = {"$gt": [change.stage_percent, {"$ifNull": ["$stage_percent", 0]}]}
    entry = history.stage(stage_percent=change.stage_percent, agent_id=change.agent_id, at=now,
                          funnel_step=change.funnel_step.value if change.funnel_step else None,
                          deal_in_progress=change.deal_in_progress)
    fields: Doc = {
        "stage_percent": change.stage_percent, "stage_changed_at": now, "updated_at": now,
        "stage_advanced_at": {"$cond": [advanced, now, "$stage_advanced_at"]},
        "progress_at": {"$cond": [{"$and": [advanced, {"$eq": ["$status", HELD]}]}, now, "$progress_at"]},
        **history.appended_in_pipeline([history.literal(entry)]),
    }
    if change.funnel_step is not None:
        order = [step.value for step in FUNNEL_ORDER]
        fields["funnel_step"] = {"$cond": [
            {"$gte": [order.index(change.funnel_step.value), {"$indexOfArray": [order, "$funnel_step"]}]},
            change.funnel_step.value, "$funnel_step"]}
    if change.deal_in_progress is not None:
        fields["deal_in_progress"] = change.deal_in_progress
    return {"_id": lead["_id"], "tenant_id": lead["tenant_id"]}, [{"$set": fields}]


def calls_update(lead: Doc, calls: Sequence[Any], policy: AllocationPolicy, now: datetime) -> tuple[Doc, Doc, list]:
    """Calls (calls.logged.v1 payloads) of one lead: last contact, contact pressure, the holder's first
    call, a valid contact once one connected, and one history entry per call."""
    times = [c.started_at for c in calls]
    recent, rest_until = domain.contact_pressure([*(lead.get("recent_calls") or []), *times], now, policy)
    fields: Doc = {"recent_calls": recent, "last_call_at": max([*times, *([lead["last_call_at"]]
                                                                          if lead.get("last_call_at") else [])]),
                   "updated_at": now}
    if rest_until is not None and (lead.get("rest_until") is None or lead["rest_until"] < rest_until):
        fields["rest_until"] = rest_until
    if lead["status"] == HELD and any(c.agent_id == lead.get("holder") and c.started_at >= lead["held_since"]
                                      for c in calls):
        fields["awaiting_first_call"] = False
    if any(c.connected for c in calls) and lead.get("funnel_step") is None:
        fields["funnel_step"] = "valid"  # reached the person: the contact is valid
    entries = [history.call(agent_id=c.agent_id, started_at=c.started_at, duration_seconds=c.duration_seconds,
                            connected=c.connected) for c in calls]
    return ({"_id": lead["_id"], "tenant_id": lead["tenant_id"]},
            history.with_history({"$set": fields, "$inc": {"call_count": len(calls)}}, entries), [])


def signal_fields(signal: Any, now: datetime, alerted: str | None) -> Doc:
    """A signal (leads.signal.v1 payload) on the lead: its latest signal (the hot marker) and its
    history; `alerted`: the agent told (allocation.hot-lead.v1), if any."""
    # `at` first: $max compares documents field by field, so the signal that happened last stays, whatever
    # order signals arrive in (and any signal beats one stored without `at` first, a date outranking a string)
    last = {"at": signal.occurred_at, "kind": signal.kind.value, "detail": signal.detail}
    entry = history.signal(kind=signal.kind.value, detail=signal.detail, occurred_at=signal.occurred_at,
                           agent_id=alerted)
    return history.with_history({"$max": {"last_signal": last}, "$set": {"updated_at": now}}, [entry])
