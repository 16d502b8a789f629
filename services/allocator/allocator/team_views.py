"""What the API says on a supervisor's team view: the team's deal-in-progress marks (the waiting list) and the
leads a push on arrival could not place. Shapes answers only: the rules are domain/'s and reclaim_clock.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from telesales_runtime.masking import mask_name, mask_phone

from .domain import AllocationPolicy
from .reclaim_clock import reclaim_clock
from .schemas import LeadView

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


class UnplacedPage(BaseModel):
    """Pooled leads of the pools that push to the team (routing rules' `on_arrival`) that the push could not
    place, latest first (numbers masked, as in a pool); each says why in `push_missed`."""

    team_id: str
    pool_ids: list[str] = Field(description="The pools whose arrivals are pushed to this team.")
    total: int = Field(description="How many such leads there are now, in all pages.")
    items: list[LeadView]
    next_cursor: str | None = None


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
