"""Notifications, pure: which platform events tell which user what (one mapping per topic), the
Notification a client sees, and the cursor that gives each live stream every notification exactly once.
No I/O here."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from telesales_contracts import CloudEvent
from telesales_contracts.allocation import (
    DealMarkDecided,
    DealMarkRequested,
    HotLead,
    LeadAssigned,
    LeadClosed,
    LeadReclaimed,
    ReclaimWarning,
    WinConfirmed,
    WinRejected,
)
from telesales_contracts.ledger import (
    BonusAwarded,
    CoinsAllocated,
    ReallocationAwaiting,
    ReallocationDecided,
    TransferPosted,
)
from telesales_contracts.marketplace import PurchaseCompleted, PurchaseRefused, StruggleRecommended, TipForwarded
from telesales_contracts.platform import UnmaskBudgetExceeded
from telesales_contracts.topics import (
    ALLOCATION_ASSIGNED,
    ALLOCATION_CLOSED,
    ALLOCATION_DEAL_MARK_DECIDED,
    ALLOCATION_DEAL_MARK_REQUESTED,
    ALLOCATION_HOT_LEAD,
    ALLOCATION_RECLAIM_WARNING,
    ALLOCATION_RECLAIMED,
    ALLOCATION_WIN_CONFIRMED,
    ALLOCATION_WIN_REJECTED,
    LEDGER_BONUS_AWARDED,
    LEDGER_COINS_ALLOCATED,
    LEDGER_REALLOCATION_AWAITING,
    LEDGER_REALLOCATION_DECIDED,
    LEDGER_TRANSFER_POSTED,
    MARKETPLACE_PURCHASE_COMPLETED,
    MARKETPLACE_PURCHASE_REFUSED,
    MARKETPLACE_STRUGGLE_RECOMMENDED,
    MARKETPLACE_TIP_FORWARDED,
    SECURITY_UNMASK_BUDGET_EXCEEDED,
    Topic,
)


class NotificationKind(StrEnum):
    HOT_LEAD = "hot_lead"
    RECLAIM_WARNING = "reclaim_warning"
    LEAD_ASSIGNED = "lead_assigned"
    LEAD_RECLAIMED = "lead_reclaimed"
    LEAD_DO_NOT_CALL = "lead_do_not_call"
    PURCHASE_GRANTED = "purchase_granted"
    PURCHASE_REFUSED = "purchase_refused"
    TIP_RECOMMENDED = "tip_recommended"
    TIP_FORWARDED = "tip_forwarded"
    COINS_RECEIVED = "coins_received"
    APPROVAL_DECIDED = "approval_decided"
    DEAL_MARK_REQUESTED = "deal_mark_requested"
    DEAL_MARK_DECIDED = "deal_mark_decided"
    APPROVAL_WAITING = "approval_waiting"
    WIN_CONFIRMED = "win_confirmed"
    WIN_REJECTED = "win_rejected"
    UNMASK_BUDGET_EXCEEDED = "unmask_budget_exceeded"


class Notification(BaseModel):
    """What a user is told. The web app writes the sentences (zh-CN, en) from `kind` and `subject`."""

    seq: int = Field(ge=1, description="The user's own sequence number: the order of commit, gapless.")
    id: str = Field(description="Stable id, derived from the source event, the user and the part.")
    kind: NotificationKind
    subject: dict[str, Any] = Field(description="The data the words and links are made from (lead_id, tip_id, "
                                    "amounts, reasons...), per kind.")
    link: str = Field(description="Where in the app it leads: /leads/<id>, /tips/<id>, /wallet...")
    at: datetime = Field(description="When it happened (the source event's time).")
    read: bool = False


class NotificationPage(BaseModel):
    items: list[Notification] = Field(description="Newest first.")
    unread: int = Field(ge=0, description="Unread notifications of the user in all.")
    next_before: int | None = Field(description="`before` of the next (older) page; null on the last page.")


_NAMESPACE = uuid.UUID("0b4f7d52-5a8e-4c57-9d0e-3f4f4a1c2b6e")


@dataclass(frozen=True, slots=True)
class Draft:
    """A notification for one user made from one event, before it has its seq. `part` tells apart the
    notifications one event makes for one user (a bonus draw may award the same user twice)."""

    tenant: str
    user: str
    event_id: str
    part: int
    kind: NotificationKind
    subject: dict[str, Any]
    link: str
    at: datetime

    @property
    def id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, json.dumps([self.tenant, self.user, self.event_id, self.part])))


Mapping = Callable[[CloudEvent[Any]], list[Draft]]


def _draft(event: CloudEvent[Any], user: str, kind: NotificationKind, subject: dict[str, Any], link: str,
           part: int = 0) -> Draft:
    plain = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in subject.items()}
    return Draft(tenant=event.tenantid, user=user, event_id=event.id, part=part, kind=kind, subject=plain,
                 link=link, at=event.time)


def _hot_lead(event: CloudEvent[HotLead]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.agent_id, NotificationKind.HOT_LEAD,
                   {"lead_id": d.lead_id, "signal_kind": d.kind.value, "detail": d.detail, "routed": d.routed,
                    "occurred_at": d.occurred_at}, f"/leads/{d.lead_id}")]


def _reclaim_warning(event: CloudEvent[ReclaimWarning]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.agent_id, NotificationKind.RECLAIM_WARNING,
                   {"lead_id": d.lead_id, "reclaim_kind": d.kind.value, "reclaim_at": d.reclaim_at,
                    "stage_percent": d.stage_percent}, f"/leads/{d.lead_id}")]


def _assigned(event: CloudEvent[LeadAssigned]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.agent_id, NotificationKind.LEAD_ASSIGNED,
                   {"lead_id": d.lead_id, "lead_grade": d.lead_grade, "score": d.score,
                    "business_line": d.business_line, "strategy": d.strategy.value, "assigned_by": d.assigned_by,
                    # assigned by the agent itself: its own application (轮询申领) was served
                    "applied": d.assigned_by == d.agent_id},
                   f"/leads/{d.lead_id}")]


def _reclaimed(event: CloudEvent[LeadReclaimed]) -> list[Draft]:
    d = event.data
    # The lead is no longer the agent's: the link goes to their list, not to a page they may not open.
    return [_draft(event, d.agent_id, NotificationKind.LEAD_RECLAIMED,
                   {"lead_id": d.lead_id, "reclaim_kind": d.kind.value, "stage_percent": d.stage_percent,
                    "deadline": d.deadline}, "/leads")]


def _deal_mark_requested(event: CloudEvent[DealMarkRequested]) -> list[Draft]:
    d = event.data
    # every supervisor who may decide is told; the first to decide settles it
    return [_draft(event, supervisor, NotificationKind.DEAL_MARK_REQUESTED,
                   {"lead_id": d.lead_id, "request_id": d.request_id, "agent_id": d.agent_id, "note": d.note},
                   f"/leads/{d.lead_id}") for supervisor in d.supervisors]


def _deal_mark_decided(event: CloudEvent[DealMarkDecided]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.agent_id, NotificationKind.DEAL_MARK_DECIDED,
                   {"lead_id": d.lead_id, "request_id": d.request_id, "decision": d.decision,
                    "decided_by": d.decided_by, "reason": d.reason, "expires_at": d.expires_at},
                   f"/leads/{d.lead_id}")]


def _win_confirmed(event: CloudEvent[WinConfirmed]) -> list[Draft]:
    d = event.data
    # the agent's win counts from now on (grades, rankings): an order or its supervisor confirmed it
    return [_draft(event, d.agent_id, NotificationKind.WIN_CONFIRMED,
                   {"lead_id": d.lead_id, "amount_fen": d.amount_fen, "confirmed_by": d.confirmed_by,
                    "confirmer": d.confirmer, "order_ref": d.order_ref}, f"/leads/{d.lead_id}")]


def _win_rejected(event: CloudEvent[WinRejected]) -> list[Draft]:
    d = event.data
    # the agent's declared win counts for nothing (a lost order, or its supervisor), and the lead is back on its list
    return [_draft(event, d.agent_id, NotificationKind.WIN_REJECTED,
                   {"lead_id": d.lead_id, "declared_amount_fen": d.declared_amount_fen, "rejected_by": d.rejected_by,
                    "rejecter": d.rejecter, "reason": d.reason, "order_ref": d.order_ref}, f"/leads/{d.lead_id}")]


def _closed(event: CloudEvent[LeadClosed]) -> list[Draft]:
    d = event.data
    # Only a lead closed under its agent (its number went on the do-not-call list) is news: an agent who
    # closed its own lead knows. No link to the lead: it is nobody's now and must not be dialled.
    if not d.do_not_call:
        return []
    return [_draft(event, d.agent_id, NotificationKind.LEAD_DO_NOT_CALL,
                   {"lead_id": d.lead_id, "reason": d.reason, "business_line": d.business_line}, "/leads")]


def _purchase_completed(event: CloudEvent[PurchaseCompleted]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.buyer_id, NotificationKind.PURCHASE_GRANTED,
                   {"tip_id": d.tip_id, "purchase_id": d.purchase_id, "version": d.version, "price": d.price},
                   f"/tips/{d.tip_id}")]


def _purchase_refused(event: CloudEvent[PurchaseRefused]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.buyer_id, NotificationKind.PURCHASE_REFUSED,
                   {"tip_id": d.tip_id, "purchase_id": d.purchase_id, "price": d.price, "reason": d.reason.value,
                    "limit": d.limit.value if d.limit else None, "limit_value": d.limit_value, "message": d.message},
                   f"/tips/{d.tip_id}")]


def _struggle_recommended(event: CloudEvent[StruggleRecommended]) -> list[Draft]:
    d = event.data
    tips = [{"tip_id": t.tip_id, "title": t.title, "price": t.price, "rating": t.rating} for t in d.tips]
    link = f"/tips/{tips[0]['tip_id']}" if len(tips) == 1 else "/tips"
    return [_draft(event, d.agent_id, NotificationKind.TIP_RECOMMENDED,
                   {"tip_id": tips[0]["tip_id"] if tips else None, "recommendation_id": d.recommendation_id,
                    "trigger": d.trigger.value, "step": d.step.value if d.step else None, "stage": d.stage.value,
                    "agent_rate": d.agent_rate, "team_rate": d.team_rate, "gap": d.gap, "tips": tips}, link)]


def _tip_forwarded(event: CloudEvent[TipForwarded]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.to_user_id, NotificationKind.TIP_FORWARDED,
                   {"tip_id": d.tip_id, "from_user_id": d.from_user_id, "note": d.note}, f"/tips/{d.tip_id}")]


def _coins_allocated(event: CloudEvent[CoinsAllocated]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.user_id, NotificationKind.COINS_RECEIVED,
                   {"source": "allocation", "amount": d.amount, "allocation_id": d.allocation_id,
                    "selection": d.selection.value, "allocated_by": d.allocated_by, "note": d.note}, "/wallet")]


def _bonus_awarded(event: CloudEvent[BonusAwarded]) -> list[Draft]:
    d = event.data
    return [_draft(event, award.user_id, NotificationKind.COINS_RECEIVED,
                   {"source": "bonus", "amount": award.amount, "draw_id": d.draw_id}, "/wallet", part=index)
            for index, award in enumerate(d.awards)]


def _transfer_posted(event: CloudEvent[TransferPosted]) -> list[Draft]:
    d = event.data
    # A repeated answer is the same sale told again; a sale that paid the seller nothing is no news to them.
    if d.repeat or d.seller_amount == 0:
        return []
    return [_draft(event, d.seller_id, NotificationKind.COINS_RECEIVED,
                   {"source": "sale", "amount": d.seller_amount, "tip_id": d.tip_id, "transfer_id": d.transfer_id},
                   "/wallet")]


def _reallocation_decided(event: CloudEvent[ReallocationDecided]) -> list[Draft]:
    d = event.data
    return [_draft(event, d.user_id, NotificationKind.APPROVAL_DECIDED,
                   {"request_id": d.request_id, "decision": d.decision, "amount": d.amount, "reason": d.reason,
                    "decided_by": d.decided_by}, "/wallet")]


def _reallocation_awaiting(event: CloudEvent[ReallocationAwaiting]) -> list[Draft]:
    """Each approver of the level whose turn it is is asked; the requester learns where the request stands."""
    d = event.data
    subject = {"request_id": d.request_id, "user_id": d.user_id, "team_id": d.team_id, "level": d.level.value,
               "approvals": len(d.approvals), "levels": len(d.levels)}
    asked = [_draft(event, approver, NotificationKind.APPROVAL_WAITING, {**subject, "for": "approver"}, "/wallet",
                    part=index) for index, approver in enumerate(dict.fromkeys(d.approvers)) if approver != d.user_id]
    return [*asked, _draft(event, d.user_id, NotificationKind.APPROVAL_WAITING, {**subject, "for": "requester"},
                           "/wallet", part=len(asked))]


def _unmask_budget_exceeded(event: CloudEvent[UnmaskBudgetExceeded]) -> list[Draft]:
    """The user learns why numbers are masked until the hour ends; its supervisors that someone of their team
    asked for more full numbers than the budget allows (the usual sign of a list being copied out)."""
    d = event.data
    subject = {"user_id": d.user_id, "team_id": d.team_id, "hour": d.hour, "count": d.count, "budget": d.budget,
               "service": d.service}
    supervisors = [s for s in dict.fromkeys(d.supervisors) if s != d.user_id]
    return [_draft(event, d.user_id, NotificationKind.UNMASK_BUDGET_EXCEEDED, {**subject, "for": "user"}, "/leads"),
            *(_draft(event, s, NotificationKind.UNMASK_BUDGET_EXCEEDED, {**subject, "for": "supervisor"}, "/team",
                     part=index + 1) for index, s in enumerate(supervisors))]


MAPPINGS: dict[str, Mapping] = {
    ALLOCATION_HOT_LEAD.name: _hot_lead,
    ALLOCATION_RECLAIM_WARNING.name: _reclaim_warning,
    ALLOCATION_ASSIGNED.name: _assigned,
    ALLOCATION_RECLAIMED.name: _reclaimed,
    ALLOCATION_CLOSED.name: _closed,
    MARKETPLACE_PURCHASE_COMPLETED.name: _purchase_completed,
    MARKETPLACE_PURCHASE_REFUSED.name: _purchase_refused,
    MARKETPLACE_STRUGGLE_RECOMMENDED.name: _struggle_recommended,
    MARKETPLACE_TIP_FORWARDED.name: _tip_forwarded,
    LEDGER_COINS_ALLOCATED.name: _coins_allocated,
    LEDGER_BONUS_AWARDED.name: _bonus_awarded,
    LEDGER_TRANSFER_POSTED.name: _transfer_posted,
    LEDGER_REALLOCATION_DECIDED.name: _reallocation_decided,
    ALLOCATION_DEAL_MARK_REQUESTED.name: _deal_mark_requested,
    ALLOCATION_DEAL_MARK_DECIDED.name: _deal_mark_decided,
    LEDGER_REALLOCATION_AWAITING.name: _reallocation_awaiting,
    ALLOCATION_WIN_CONFIRMED.name: _win_confirmed,
    ALLOCATION_WIN_REJECTED.name: _win_rejected,
    SECURITY_UNMASK_BUDGET_EXCEEDED.name: _unmask_budget_exceeded,
}

SOURCE_TOPICS: tuple[Topic, ...] = (
    ALLOCATION_HOT_LEAD, ALLOCATION_RECLAIM_WARNING, ALLOCATION_ASSIGNED, ALLOCATION_RECLAIMED, ALLOCATION_CLOSED,
    MARKETPLACE_PURCHASE_COMPLETED, MARKETPLACE_PURCHASE_REFUSED, MARKETPLACE_STRUGGLE_RECOMMENDED,
    MARKETPLACE_TIP_FORWARDED, LEDGER_COINS_ALLOCATED, LEDGER_BONUS_AWARDED, LEDGER_TRANSFER_POSTED,
    LEDGER_REALLOCATION_DECIDED, ALLOCATION_DEAL_MARK_REQUESTED, ALLOCATION_DEAL_MARK_DECIDED,
    LEDGER_REALLOCATION_AWAITING, ALLOCATION_WIN_CONFIRMED, ALLOCATION_WIN_REJECTED,
    SECURITY_UNMASK_BUDGET_EXCEEDED,
)


def drafts_of(topic: str, event: CloudEvent[Any]) -> list[Draft]:
    """The notifications one event of `topic` makes (none for an event that tells nobody anything)."""
    return MAPPINGS[topic](event)


# ---- live streams: every notification once, in order --------------------------------------------------


class Step(StrEnum):
    SEND = "send"  # the next one: send it
    SKIP = "skip"  # sent already (replayed from the database, or a repeat)
    FILL_GAP = "fill_gap"  # one or more before it never arrived: read them (and it) from the database


@dataclass(slots=True)
class StreamCursor:
    """The last seq a stream sent. Pub/sub may lose or (after a resubscribe) repeat messages, and a replay
    from the database overlaps what pub/sub brings: the cursor decides, per seq, so each goes out once."""

    last: int = 0

    def step(self, seq: int) -> Step:
        if seq <= self.last:
            return Step.SKIP
        return Step.SEND if seq == self.last + 1 else Step.FILL_GAP

    def advance(self, seq: int) -> None:
        """`seq` went out."""
        if seq > self.last:
            self.last = seq


def sse_event(seq: int, data_json: str) -> bytes:
    """One Server-Sent Event (the JSON is one line: json.dumps never writes a raw newline)."""
    return f"id: {seq}\nevent: notification\ndata: {data_json}\n\n".encode()


def sse_comment(text: str) -> bytes:
    return f": {text}\n\n".encode()


def sse_retry(milliseconds: int) -> bytes:
    return f"retry: {milliseconds}\n\n".encode()


def parse_last_event_id(value: str | None) -> int | None:
    """A Last-Event-ID as a seq; None when absent or not one of ours (a client's stray id starts from now)."""
    if value is None:
        return None
    value = value.strip()
    return int(value) if value.isdigit() and len(value) <= 18 else None
