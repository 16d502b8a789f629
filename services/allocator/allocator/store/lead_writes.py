"""The Lead aggregate's changes (domain/lead.py) as MongoDB writes: each change becomes one conditional
single-document update (a filter and an update document or pipeline), with the history entry that
records it in the same write. The condition a change states (the same hold, a status it must still be
in) is part of the filter, so the database judges it at the moment of writing and a race or a repeated
event changes nothing twice. Pure: builds documents; AllocatorStore writes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telesales_contracts.activity import FUNNEL_ORDER
from telesales_contracts.consent import telemarketing

from .. import history
from ..domain.changes import (
    AdvanceStage,
    Assign,
    Close,
    ConfirmWin,
    LeadChange,
    MarkHot,
    RecordCalls,
    RejectWin,
    Release,
    SameHold,
    SetDealMark,
    StopCalls,
    Touch,
    Warn,
    Win,
)
from ..domain.lead import CLOSED, DO_NOT_CALL, HELD, POOLED, WON, Lead

Doc = dict[str, Any]


def lead_of(doc: Mapping[str, Any]) -> Lead:
    """A stored lead as the aggregate (whatever fields the read projected; the rest at their defaults)."""
    return Lead(lead_id=doc["_id"], tenant_id=doc["tenant_id"], status=doc["status"],
                business_line=doc.get("business_line", ""), pool_id=doc.get("pool_id", ""),
                score=doc.get("score", 0), lead_grade=doc.get("lead_grade", ""), holder=doc.get("holder"),
                holder_team=doc.get("holder_team"), holder_grade=doc.get("holder_grade"),
                held_since=doc.get("held_since"), stage_percent=doc.get("stage_percent", 0),
                funnel_step=doc.get("funnel_step"), dropped_by=tuple(doc.get("dropped_by") or ()),
                recent_calls=tuple(doc.get("recent_calls") or ()), last_call_at=doc.get("last_call_at"),
                rest_until=doc.get("rest_until"), dedicated_agent=doc.get("dedicated_agent"),
                warned_for=doc.get("warned_for"), external_refs=tuple(doc.get("external_refs") or ()),
                product_interest=doc.get("product_interest"), region=doc.get("region"),
                previous_holders=tuple(doc.get("previous_holders") or ()), last_holder=doc.get("last_holder"),
                deal_mark=doc.get("deal_mark"), progress_at=doc.get("progress_at"),
                dial_days=tuple(doc.get("dial_days") or ()), dial_streak_at=doc.get("dial_streak_at"),
                phone_e164=doc.get("phone_e164"), last_team=doc.get("last_team"),
                last_reclaimed=bool(doc.get("last_reclaimed")), purchases_fen=doc.get("purchases_fen") or 0,
                updated_at=doc.get("updated_at"),
                won={k: doc[k] for k in WON_FIELDS if k in doc} or None)


@dataclass(frozen=True)
class Alongside:
    """A conditional update of one document of another collection, written in the same transaction as a
    lead's change (AllocatorStore.commit_if): both are written, or neither."""

    collection: str
    query: Doc
    update: Doc


class AlongsideChanged(Exception):  # noqa: N818 - a condition, not a failure
    """The `Alongside` write no longer matched its condition: nothing of the change was written."""


# The stored fields of a win (domain/wins.py reads them as `Lead.won`).
WON_FIELDS = ("won_by", "won_at", "won_amount_fen", "won_team", "win_confirmed", "win_declared_over")


# What a hold owns and the next one must not inherit: its deal-in-progress mark, its dial days and streak, the
# rejection of a win its holder declared.
_HOLD_OWN = {"deal_mark": None, "deal_in_progress": False, "dial_days": [], "dial_streak_at": None,
             "win_rejection": None}


def hold_fields(holder: Any, team: Any, grade: Any, via: Any, now: datetime) -> Doc:
    """The fields of a lead that an agent has just got (values, or expressions in a pipeline)."""
    return {"status": HELD, "holder": holder, "holder_team": team, "holder_grade": grade, "held_since": now,
            "held_via": via, "awaiting_first_call": True, "progress_at": now, "warned_for": None, "updated_at": now,
            "push_missed": None, **_HOLD_OWN}  # held: a missed push on arrival is over


def _key(lead: Lead) -> Doc:
    return {"_id": lead.lead_id, "tenant_id": lead.tenant_id}


def _same_hold(lead: Lead, hold: SameHold) -> Doc:
    query = {**_key(lead), "status": HELD, "holder": hold.holder, "held_since": hold.held_since}
    if hold.unchanged_since is not None:
        query["updated_at"] = hold.unchanged_since
    return query


def write_of(lead: Lead, change: LeadChange) -> tuple[Doc, Doc | list[Doc]]:
    """(filter, update) of one change of `lead`."""
    match change:
        case Release():
            return _same_hold(lead, change.condition or lead.same_hold()), _release(change)
        case Close():
            return _same_hold(lead, change.condition), _close(change)
        case Win():
            return _same_hold(lead, change.condition), _win(change)
        case ConfirmWin():  # once: only while still unconfirmed
            return ({**_key(lead), "status": WON, "won_by": change.won_by, "win_confirmed": False},
                    _confirm_win(change))
        case RejectWin():  # once: only while it is still the same unconfirmed win
            return ({**_key(lead), "status": WON, "won_by": change.won_by, "won_at": change.won_at,
                     "win_confirmed": False}, _reject_win(change))
        case SetDealMark():
            return ({**_same_hold(lead, change.condition), "deal_mark.request_id": change.previous_request,
                     **({"deal_mark.status": change.previous_status} if change.previous_status else {})},
                    history.with_history({"$set": {"deal_mark": dict(change.mark), "updated_at": change.at,
                                                   "deal_in_progress": change.mark.get("status") == "approved"}},
                                         [change.entry]))
        case Warn():
            return ({**_same_hold(lead, change.condition), "warned_for": change.previous},
                    {"$set": {"warned_for": change.warn_key}})
        case Assign():
            return {**_key(lead), "status": {"$in": list(change.from_statuses)}}, _assign(change)
        case AdvanceStage():
            return _key(lead), _advance_stage(change)
        case RecordCalls():
            return _key(lead), _record_calls(change)
        case MarkHot():
            return _key(lead), _mark_hot(change)
        case StopCalls():
            still = {} if change.still is None else {"status": change.still[0], "holder": change.still[1]}
            return {**_key(lead), **still}, _stop_calls(change)
        case Touch():
            return _key(lead), _touch(change)
    raise TypeError(f"not a lead change: {change!r}")


def _release(change: Release) -> Doc:
    update: Doc = {"$set": {"status": POOLED, "holder": None, "holder_team": None, "holder_grade": None,
                            "held_since": None, "held_via": None, "awaiting_first_call": None,
                            "progress_at": None, "warned_for": None, "last_holder": change.agent_id,
                            "last_team": change.team_id, "last_reclaimed": change.reclaimed,
                            "dropped_by": list(change.dropped_by), "drop_count": len(change.dropped_by),
                            "updated_at": change.at, **_HOLD_OWN}}
    if change.counts_as_drop:
        update["$push"] = {"drops": {"agent_id": change.agent_id, "at": change.at}}
    update = history.with_history(update, [change.entry])
    if change.reclaimed:
        update["$set"]["reclaimed_at"] = change.at
    return update


def _close(change: Close) -> Doc:
    return history.with_history({"$set": {
        "status": CLOSED, "closed_by": change.agent_id, "closed_at": change.at, "close_reason": change.reason,
        "holder": None, "last_holder": change.agent_id, "updated_at": change.at}}, [change.entry])


def _win(change: Win) -> Doc:
    update: Doc = {"$set": {
        "status": WON, "won_by": change.agent_id, "won_at": change.at, "won_amount_fen": change.amount_fen,
        "won_team": change.team_id, "holder": None, "last_holder": change.agent_id, "win_confirmed": False,
        "dedicated_agent": change.agent_id, "stage_percent": 100, "funnel_step": "paid", "win_rejection": None,
        "updated_at": change.at}}
    if change.declared_over is not None:
        update["$set"]["win_declared_over"] = dict(change.declared_over)
    if change.confirmation is None:  # declared: counts toward nothing yet
        return history.with_history(update, [change.entry])
    c = change.confirmation  # confirmed at once by an order: both entries
    confirmed_entry = history.win_confirmed(by=c["by"], confirmer=c["confirmer"], order_ref=c["order_ref"],
                                            amount_fen=c["amount_fen"], at=change.at)
    confirmed = _confirm_win(ConfirmWin(won_by=change.agent_id, confirmation=c, amount_fen=change.amount_fen,
                                        buyer=change.buyer, entry=confirmed_entry, at=change.at))
    update["$set"] |= confirmed["$set"]
    update["$inc"] = confirmed["$inc"]
    return history.with_history(update, [change.entry, confirmed_entry])


def _confirm_win(change: ConfirmWin) -> Doc:
    fields: Doc = {"win_confirmed": True, "win_confirmed_at": change.at, "win_confirmation": dict(change.confirmation),
                   "won_amount_fen": change.amount_fen, "updated_at": change.at}
    if change.buyer:  # never unset: a buyer stays one
        fields["buyer"] = True
    return history.with_history({"$set": fields, "$inc": {"purchases_fen": change.amount_fen}}, [change.entry])


def _reject_win(change: RejectWin) -> Doc:
    """Held again by its winner, as before the declaration; the reclaim clocks start again now."""
    now = change.at
    fields: Doc = {"status": HELD, "holder": change.won_by, "holder_team": change.team_id, "held_since": now,
                   "progress_at": now, "warned_for": None, "dial_days": [], "dial_streak_at": None,
                   "win_rejection": dict(change.rejection), "updated_at": now, **dict(change.restore)}
    return history.with_history({"$set": fields, "$unset": {name: "" for name in WON_FIELDS}}, [change.entry])


def _assign(change: Assign) -> Doc:
    agent, now = change.agent, change.at
    update = {"$set": hold_fields(agent.agent_id, agent.team_id, agent.grade, "assigned", now),
              "$addToSet": {"previous_holders": agent.agent_id},
              "$push": {"holds": {"agent_id": agent.agent_id, "grade": agent.grade, "team_id": agent.team_id,
                                  "via": "assigned", "at": now}}}
    return history.merged(history.with_history(update, [change.entry]),
                          _mark_hot(change.also) if change.also else {})


def _advance_stage(change: AdvanceStage) -> list[Doc]:
    """A pipeline, judged against the lead as it is when written: only moving forward restarts the
    not-converted clock, and the funnel step never moves back (domain.lead.funnel_step_after)."""
    now = change.at
    advanced = {"$gt": [change.percent, {"$ifNull": ["$stage_percent", 0]}]}
    fields: Doc = {
        "stage_percent": change.percent, "stage_changed_at": now, "updated_at": now,
        "stage_advanced_at": {"$cond": [advanced, now, "$stage_advanced_at"]},
        "progress_at": {"$cond": [{"$and": [advanced, {"$eq": ["$status", HELD]}]}, now, "$progress_at"]},
        **history.appended_in_pipeline([history.literal(change.entry)]),
    }
    if change.step is not None:
        order = [step.value for step in FUNNEL_ORDER]
        fields["funnel_step"] = {"$cond": [
            {"$gte": [order.index(change.step), {"$indexOfArray": [order, "$funnel_step"]}]},
            change.step, "$funnel_step"]}
    if change.deal_in_progress is False:  # the mark withdrawn (setting it is a request: SetDealMark)
        fields["deal_in_progress"] = False
        fields["deal_mark"] = None
    # a forward move is progress: the dial streak (seed 002's rule) starts again
    fields["dial_days"] = {"$cond": [advanced, [], {"$ifNull": ["$dial_days", []]}]}
    fields["dial_streak_at"] = {"$cond": [advanced, None, {"$ifNull": ["$dial_streak_at", None]}]}
    return [{"$set": fields}]


def _record_calls(change: RecordCalls) -> Doc:
    fields: Doc = {"recent_calls": list(change.recent_calls), "last_call_at": change.last_call_at,
                   "updated_at": change.at}
    if change.rest_until is not None:
        fields["rest_until"] = change.rest_until
    if change.holder_called:
        fields["awaiting_first_call"] = False
    if change.valid_contact:
        fields["funnel_step"] = "valid"  # reached the person: the contact is valid
    if change.dial_days is not None:
        fields["dial_days"] = list(change.dial_days)
    if change.dial_streak_at is not None:
        fields["dial_streak_at"] = change.dial_streak_at
    return history.with_history({"$set": fields, "$inc": {"call_count": change.count}}, list(change.entries))


def _mark_hot(change: MarkHot) -> Doc:
    # $max compares documents field by field (`at` first): the signal that happened last stays, whatever
    # order signals arrive in (and any signal beats one stored without `at` first, a date outranking a string)
    return history.with_history({"$max": {"last_signal": dict(change.last_signal)}, "$set": {"updated_at": change.at}},
                                [change.entry])


def _stop_calls(change: StopCalls) -> Doc:
    return history.with_history({"$set": {
        "status": DO_NOT_CALL, "holder": None, "last_holder": change.last_holder, "complaint": change.reason,
        "complained_at": change.at, "updated_at": change.at}}, [change.entry])


def _touch(change: Touch) -> Doc:
    update: Doc = {"$set": {"updated_at": change.at}}
    if change.external_refs:  # answers about the lead (its outcome) carry every outside reference
        update["$addToSet"] = {"external_refs": {"$each": [dict(r) for r in change.external_refs]}}
    if change.new_touch:
        update["$inc"] = {"touches": 1}
    if change.reopen:
        update["$set"] |= {"status": POOLED, "holder": None, "reopened_at": change.at}
    return history.with_history(update, list(change.entries))


def new_lead_document(tenant: str, data: Any, *, pool_id: str, buyer: bool, now: datetime,
                      do_not_call: bool = False, purchases_fen: int = 0) -> Doc:
    """A qualified lead (leads.qualified.v1 payload) as stored: pooled in `pool_id`, nobody's yet; closed for
    good from the start when its number is on the do-not-call list (`do_not_call`)."""
    doc: Doc = {
        "_id": data.lead_id, "tenant_id": tenant, "phone_e164": data.phone_e164, "name": data.name,
        "company": data.company, "business_line": data.business_line, "product_interest": data.product_interest,
        "region": data.region, "channel": data.channel.value, "score": data.score, "lead_grade": data.grade,
        "score_parts": [part.model_dump() for part in data.score_breakdown],
        "score_model": data.model.model_dump(exclude={"feature_log_odds"}) if data.model else None,
        "pool_id": pool_id,
        "status": POOLED, "holder": None, "holder_team": None, "holder_grade": None, "held_since": None,
        "previous_holders": [], "last_holder": None, "dropped_by": [], "drops": [], "drop_count": 0,
        "call_count": 0, "last_call_at": None, "recent_calls": [], "rest_until": None,
        "stage_percent": 0, "funnel_step": None, "stage_advanced_at": None, "deal_in_progress": False,
        "buyer": buyer, "purchases_fen": purchases_fen, "dedicated_agent": None, "touches": 1, "holds": [],
        "external_refs": [ref.model_dump() for ref in data.external_refs], "created_at": now, "updated_at": now,
        "consent": [each.model_dump() for each in data.consent],
    }
    if telemarketing(data.consent) is False:  # lead-intake rejects these; another producer might not
        closed = history.holder_change("closed", None, now, reason="consent withdrawn: telemarketing")
        doc |= {"status": DO_NOT_CALL, "complaint": "consent withdrawn", "complained_at": now,
                history.HISTORY: [closed]}
    elif do_not_call:
        closed = history.holder_change("closed", None, now, reason="do-not-call: listed on arrival")
        doc |= {"status": DO_NOT_CALL, "complaint": "do-not-call list", "complained_at": now,
                history.HISTORY: [closed]}
    return doc
