"""How a lead reads over HTTP: who sees its number, its reclaim clock, its hot marker, its score's parts
and its history. The rules come from domain/ and reclaim_clock.py; this module only shapes answers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telesales_contracts.consent import ScopeConsent
from telesales_runtime.masking import mask_name, mask_phone

from . import domain, history
from .domain import AgentFacts, AllocationPolicy
from .domain.dialing import MASKED_DIALING_ONLY, shows_number
from .push_missed import push_missed_view
from .reclaim_clock import reclaim_clock
from .schemas import (
    DealMarkView,
    HistoryEntry,
    HotSignal,
    LeadHistory,
    LeadView,
    ReclaimClockView,
    ScoreModel,
    ScorePart,
)
from .store import Doc
from .win_views import win_view


def sees_contact(viewer: AgentFacts | None, doc: Doc) -> bool:
    """The lead's holder, supervisors and managers of its business line, and admin/service see a lead's
    number and name; everyone else (operators, other agents, anyone browsing a pool) sees them masked."""
    if viewer is not None and viewer.role == "manager" and viewer.business_line == "*":
        return True
    return domain.may_see_number(viewer, holder=doc.get("holder"), business_line=doc["business_line"])


def _hot(doc: Doc) -> HotSignal | None:
    last: dict[str, Any] | None = doc.get("last_signal")
    return None if not last else HotSignal(kind=last["kind"], detail=last.get("detail"), at=last["at"])


def _reclaim(doc: Doc, policy: AllocationPolicy | None) -> ReclaimClockView | None:
    clock = None if policy is None else reclaim_clock(doc, policy)
    return None if clock is None else ReclaimClockView(kind=clock.kind, at=clock.at, warn_at=clock.warn_at,
                                                       unless=clock.unless)


def lead_view(doc: Doc, viewer: AgentFacts | None, policy: AllocationPolicy | None = None) -> LeadView:
    """The lead as `viewer` may see it; with the tenant's `policy`, a held lead's reclaim clock (and, in a
    tenant that calls only through middle numbers, its number masked for everyone)."""
    full = sees_contact(viewer, doc)
    phone = doc.get("phone_e164")
    masked_only = policy is not None and policy.masked_dialing_only
    number_full = shows_number(may_see=full, masked_dialing_only=masked_only)
    model = doc.get("score_model")
    mark = doc.get("deal_mark")
    view = LeadView(lead_id=doc["_id"], phone=phone if number_full else mask_phone(phone),
                    phone_masked=not number_full and phone is not None,
                    masked_reason=MASKED_DIALING_ONLY if full and masked_only and phone is not None else None,
                    name=doc.get("name") if full else mask_name(doc.get("name")), company=doc.get("company"),
                    business_line=doc["business_line"], product_interest=doc.get("product_interest"),
                    region=doc.get("region"), score=doc["score"], lead_grade=doc["lead_grade"],
                    pool_id=doc["pool_id"], status=doc["status"], holder=doc.get("holder"),
                    held_since=doc.get("held_since"), stage_percent=doc.get("stage_percent", 0),
                    funnel_step=doc.get("funnel_step"),
                    deal_in_progress=domain.deal_mark_in_force(mark, datetime.now(UTC)) is not None,
                    deal_mark=DealMarkView.model_validate(mark) if mark else None,
                    call_count=doc.get("call_count", 0), last_call_at=doc.get("last_call_at"),
                    drop_count=doc.get("drop_count", 0), buyer=bool(doc.get("buyer")),
                    dedicated_agent=doc.get("dedicated_agent"), rest_until=doc.get("rest_until"),
                    reclaim=_reclaim(doc, policy), hot=_hot(doc),
                    score_parts=[ScorePart.model_validate(p) for p in doc.get("score_parts") or []],
                    score_model=ScoreModel.model_validate(model) if model else None, win=win_view(doc),
                    push_missed=push_missed_view(doc),
                    consent=[ScopeConsent.model_validate(c) for c in doc.get("consent") or []])
    view._contact_full = (number_full and phone is not None) or (full and doc.get("name") is not None)
    return view


def masked_copy(view: LeadView, reason: str | None) -> LeadView:
    """A view shown in full, masked (the caller may see it but not now: `reason` says why)."""
    phone = view.phone if view.phone_masked else mask_phone(view.phone)  # masked already: not masked again
    masked = view.model_copy(update={"phone": phone, "name": mask_name(view.name),
                                     "phone_masked": view.phone is not None, "masked_reason": reason})
    masked._contact_full = False
    return masked


def history_view(doc: Doc) -> LeadHistory:
    """The lead's recorded history, in time order."""
    return LeadHistory(lead_id=doc["_id"], entries=[HistoryEntry.model_validate(e)
                                                    for e in history.in_time_order(doc.get("history") or [])])
