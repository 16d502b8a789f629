"""What the API says of a team's deal-in-progress marks (the supervisor's waiting list) and of a push on
arrival that could not place a lead. Shapes answers only: the rules are domain/'s and reclaim_clock.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from telesales_runtime.masking import mask_name, mask_phone

from .domain import AllocationPolicy
from .reclaim_clock import reclaim_clock

MarkState = Literal["requested", "approved"]
# The stored status of each state of the list.
STORED_STATUS: dict[MarkState, str] = {"requested": "pending", "approved": "approved"}


class DealMarkRow(BaseModel):
    lead_id: str
    request_id: str
    customer: str | None = Field(description="The customer's name, masked.")
    phone: str | None = Field(description="The customer's number, masked.")
    agent_id: str = Field(description="The holder who asked.")
    requested_at: datetime
    reason: str | None = Field(default=None, description="The holder's note when asking.")
    expires_at: datetime | None = Field(
        description="requested: when the request lapses undecided (the lead is reclaimed with it, unless "
                    "approved first); approved: when the mark stops protecting the lead.")


class DealMarkPage(BaseModel):
    team_id: str
    state: MarkState
    items: list[DealMarkRow]
    next_cursor: str | None = None


class PushMissedView(BaseModel):
    """Why the push on arrival could not place a lead that is still pooled (it waits to be claimed)."""

    code: str = Field(description="no_eligible_agent, target_at_cap, target_not_in_team, unknown_strategy, "
                                  "no_team, unknown_team, resting, taken_meanwhile, or a refusal's code.")
    reason: str = Field(description="As the allocator recorded it (the code, maybe with a detail).")
    at: datetime


def mark_row(doc: dict[str, Any], state: MarkState, policy: AllocationPolicy) -> DealMarkRow:
    """One lead of the list: for a request, when it lapses (the lead's reclaim deadline); for an approved
    mark, its expiry."""
    mark = doc["deal_mark"]
    if state == "approved":
        expires_at = mark.get("expires_at")
    else:
        clock = reclaim_clock(doc, policy)
        expires_at = None if clock is None else clock.at
    return DealMarkRow(lead_id=doc["_id"], request_id=mark["request_id"], customer=mask_name(doc.get("name")),
                       phone=mask_phone(doc.get("phone_e164")), agent_id=mark["agent_id"],
                       requested_at=mark["requested_at"], reason=mark.get("note"), expires_at=expires_at)


def push_missed_view(doc: dict[str, Any]) -> PushMissedView | None:
    """The note of a missed push, while the lead is still pooled (a later hold makes it history)."""
    missed = doc.get("push_missed")
    if not missed or doc.get("status") != "pooled":
        return None
    reason = str(missed.get("reason") or "")
    return PushMissedView(code=reason.split(" ", 1)[0], reason=reason, at=missed["at"])
