"""What the API says of wins (domain/wins.py): a won lead's win on its page, and a supervisor's confirmation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .domain.wins import win_state

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class WinView(BaseModel):
    """A won lead's win: `unconfirmed` (the agent declared it; it counts toward nothing yet) or `confirmed`
    (by an order from the CRM or payment system, or by the winner's supervisor); or, on a lead held again by the
    agent who declared it, `rejected` (a lost order or the supervisor: `rejected_by`, with the reason)."""

    state: Literal["unconfirmed", "confirmed", "rejected"]
    won_by: str
    won_at: datetime | None = None
    amount_fen: int | None = Field(default=None, description="Declared; once confirmed, the confirmed amount.")
    confirmed_by: Literal["order", "supervisor"] | None = None
    confirmer: str | None = Field(default=None, description="The supervisor, or the system the order came from.")
    order_ref: str | None = None
    confirmed_at: datetime | None = None
    rejected_by: Literal["order", "supervisor"] | None = None
    rejecter: str | None = Field(default=None, description="The supervisor, or the system that said the order was "
                                 "lost.")
    reason: str | None = None
    rejected_at: datetime | None = None


class WinConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_ref: Text | None = Field(default=None, description="The order the supervisor checked, if any.")
    amount_fen: int | None = Field(default=None, gt=0, le=10**12, description="The confirmed amount, when it is "
                                   "not the declared one.")


class WinRejectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text = Field(description="Why the win is rejected: the agent reads it.")


def win_view(doc: dict[str, Any]) -> WinView | None:
    """The win of a stored lead (None: not won, and no win of its holder rejected). Wins stored before
    confirmation existed count as confirmed."""
    state = win_state(doc) if doc.get("status") == "won" else None
    rejection = doc.get("win_rejection") if doc.get("status") == "held" else None
    if state is None and rejection:
        return WinView(state="rejected", won_by=rejection["agent_id"], won_at=rejection.get("won_at"),
                       amount_fen=rejection.get("amount_fen"), order_ref=rejection.get("order_ref"),
                       rejected_by=rejection.get("by"), rejecter=rejection.get("rejecter"),
                       reason=rejection.get("reason"), rejected_at=rejection.get("at"))
    if state is None:
        return None
    confirmation = doc.get("win_confirmation") or {}
    return WinView(state=state, won_by=doc["won_by"], won_at=doc.get("won_at"), amount_fen=doc.get("won_amount_fen"),
                   confirmed_by=confirmation.get("by"), confirmer=confirmation.get("confirmer"),
                   order_ref=confirmation.get("order_ref"), confirmed_at=confirmation.get("at"))
