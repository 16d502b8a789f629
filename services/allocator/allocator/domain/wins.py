"""A win (成单) counts when it is confirmed. Pure (no I/O).

An agent's `POST /v1/leads/{id}/win` declares a win (`Lead.win`): the lead is won and the agent is the
person's dedicated agent, but the sale counts toward nothing (weekly grades, rankings, the buyer pool)
until it is confirmed:

- by an order: a won `leads.outcome.v1` from outside the platform (the CRM or the payment system). On a
  lead still held, the order wins it for its holder and confirms it at once; its amount, when it names
  one, is the confirmed amount.
- by a supervisor of the winner's team (`POST /v1/leads/{id}/win/confirmation`); never by the winner.

A confirmation is given once: the same order again changes nothing; a supervisor confirming a confirmed
win is told so. Confirmed purchases make the person a buyer (进取池) once they reach the tenant's
threshold (`AllocationPolicy.buyer_min_purchase_fen`).

Lead-intake's scoring learns a win (leads.outcome.v1) once it is confirmed: from the order itself, or from
us when the supervisor confirms it; never from the declaration.

A declared win is rejected (`reject_win`) while it is unconfirmed:

- by a lost `leads.outcome.v1` from outside the platform (the CRM says the order was lost);
- by a supervisor of the winner's team (`POST /v1/leads/{id}/win/rejection`, with a reason); never by the winner.

The lead is held again by the agent who declared it, as before the declaration (its dedicated agent, stage and
funnel step put back), its reclaim clocks starting again; allocation.win-rejected.v1 tells the agent. A
confirmed win is not rejected: a lost outcome for it changes nothing (the service records it as such)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, Literal

from telesales_contracts.allocation import WinConfirmed, WinRejected
from telesales_contracts.leads import LeadOutcome
from telesales_contracts.topics import ALLOCATION_WIN_CONFIRMED, ALLOCATION_WIN_REJECTED, LEADS_OUTCOME
from telesales_runtime.errors import DomainError

from .. import history
from . import AllocationPolicy, is_buyer
from .changes import Announcement, ConfirmWin, Decision, RejectWin, Win
from .dialing import HELD, WON
from .lead import Lead

ORDER = "order"
SUPERVISOR = "supervisor"
ConfirmedBy = Literal["order", "supervisor"]


def win_state(won: dict[str, Any] | None) -> str | None:
    """`confirmed` or `unconfirmed` for a won lead's stored win fields; None when the lead was not won."""
    if not won or not won.get("won_by"):
        return None
    return "confirmed" if won.get("win_confirmed", True) else "unconfirmed"


def confirm_win(lead: Lead, *, by: ConfirmedBy, confirmer: str, policy: AllocationPolicy, at: datetime,
                order_ref: str | None = None, amount_fen: int | None = None) -> Decision | None:
    """Confirm the lead's win (see the module); None when it is confirmed already by an order (the same
    order again). Raises DomainError: `not_won` (nothing to confirm), `own_win` (a supervisor who won it),
    `already_confirmed` (a supervisor, again), `amount_missing` (an order for a held lead names no amount)."""
    if lead.status == HELD and by == ORDER:
        return _won_by_order(lead, confirmer=confirmer, order_ref=order_ref, amount_fen=amount_fen, policy=policy,
                             at=at)
    won = dict(lead.won or {})
    if _unconfirmed_win(lead, by=by, judge=confirmer, act="confirm") is None:
        return None
    won_by = won["won_by"]
    amount = amount_fen if amount_fen else int(won.get("won_amount_fen") or 0)
    confirmation = _confirmation(by, confirmer, order_ref, amount, at)
    change = ConfirmWin(won_by=won_by, confirmation=confirmation, amount_fen=amount,
                        buyer=is_buyer(lead.purchases_fen + amount, policy), at=at,
                        entry=history.win_confirmed(by=by, confirmer=confirmer, order_ref=order_ref, amount_fen=amount,
                                                    at=at))
    data = WinConfirmed(lead_id=lead.lead_id, agent_id=won_by, team_id=won.get("won_team"),
                        business_line=lead.business_line, amount_fen=amount,
                        declared_amount_fen=won.get("won_amount_fen"), confirmed_by=by, confirmer=confirmer,
                        order_ref=order_ref, won_at=won.get("won_at") or at, confirmed_at=at)
    events = [Announcement(ALLOCATION_WIN_CONFIRMED, data)]
    if by == SUPERVISOR:  # an order is the outside system's own outcome: lead-intake has it already
        outcome = LeadOutcome(lead_id=lead.lead_id, outcome="won", business_line=lead.business_line, amount_fen=amount,
                              order_ref=order_ref, external_refs=list(lead.external_refs))  # type: ignore[arg-type]
        events.append(Announcement(LEADS_OUTCOME, outcome))
    return Decision(change, tuple(events))


def reject_win(lead: Lead, *, by: ConfirmedBy, rejecter: str, reason: str, at: datetime,
               order_ref: str | None = None) -> Decision | None:
    """Reject the lead's unconfirmed win (see the module); None for a lost order about a confirmed win (the
    service records it, nothing changes). Raises DomainError: `not_won` (no declared win), `own_win` (a supervisor
    who won it), `already_confirmed` (a supervisor, about a confirmed win)."""
    if _unconfirmed_win(lead, by=by, judge=rejecter, act="reject") is None:
        return None
    won = dict(lead.won or {})
    won_by, amount = won["won_by"], won.get("won_amount_fen")
    before = won.get("win_declared_over") or {}
    restore = {key: before[key] for key in ("dedicated_agent", "stage_percent", "funnel_step") if key in before}
    rejection = {"agent_id": won_by, "by": by, "rejecter": rejecter, "reason": reason, "order_ref": order_ref,
                 "amount_fen": amount, "won_at": won.get("won_at"), "at": at}
    change = RejectWin(won_by=won_by, won_at=won.get("won_at"), team_id=won.get("won_team"), restore=restore,
                       rejection=rejection, at=at,
                       entry=history.win_rejected(by=by, rejecter=rejecter, reason=reason, order_ref=order_ref,
                                                  amount_fen=amount, at=at))
    data = WinRejected(lead_id=lead.lead_id, agent_id=won_by, team_id=won.get("won_team"),
                       business_line=lead.business_line, pool_id=lead.pool_id or None, declared_amount_fen=amount,
                       won_at=won.get("won_at"), rejected_by=by, rejecter=rejecter, reason=reason[:500],
                       order_ref=order_ref, rejected_at=at)
    return Decision(change, (Announcement(ALLOCATION_WIN_REJECTED, data),))


def _unconfirmed_win(lead: Lead, *, by: ConfirmedBy, judge: str, act: str) -> str | None:
    """The winner of the lead's unconfirmed win, which `judge` may `act` on (confirm, reject); None for an order
    about a confirmed win. Raises DomainError `not_won`, `already_confirmed` (a supervisor), `own_win`."""
    won = dict(lead.won or {})
    state = win_state(won) if lead.status == WON else None
    if state is None:
        raise DomainError("not_won", f"lead {lead.lead_id} has no win to {act} (it is {lead.status})")
    if state == "confirmed":
        if by == ORDER:
            return None
        raise DomainError("already_confirmed", f"the win of lead {lead.lead_id} is confirmed already")
    if by == SUPERVISOR and judge == won["won_by"]:
        raise DomainError("own_win", f"{judge} won lead {lead.lead_id}: its supervisor decides it")
    return str(won["won_by"])


def _won_by_order(lead: Lead, *, confirmer: str, order_ref: str | None, amount_fen: int | None,
                  policy: AllocationPolicy, at: datetime) -> Decision:
    """An order for a lead its holder has not declared won yet: won for the holder and confirmed at once.
    The outside system said the outcome already: no leads.outcome.v1 of ours."""
    if not amount_fen:
        raise DomainError("amount_missing", f"the order for held lead {lead.lead_id} names no amount")
    assert lead.holder is not None, lead.lead_id
    declared = lead.win(lead.holder, amount_fen=amount_fen, at=at)
    confirmation = _confirmation(ORDER, confirmer, order_ref, amount_fen, at)
    change = replace(declared.change, confirmation=confirmation,  # type: ignore[type-var]
                     buyer=is_buyer(lead.purchases_fen + amount_fen, policy))
    data = WinConfirmed(lead_id=lead.lead_id, agent_id=lead.holder, team_id=lead.holder_team,
                        business_line=lead.business_line, amount_fen=amount_fen, declared_amount_fen=None,
                        confirmed_by=ORDER, confirmer=confirmer, order_ref=order_ref, won_at=at, confirmed_at=at)
    return Decision(change, (*declared.events, Announcement(ALLOCATION_WIN_CONFIRMED, data)))


def _confirmation(by: str, confirmer: str, order_ref: str | None, amount_fen: int, at: datetime) -> dict[str, Any]:
    return {"by": by, "confirmer": confirmer, "order_ref": order_ref, "amount_fen": amount_fen, "at": at}


__all__ = ["ORDER", "SUPERVISOR", "ConfirmWin", "RejectWin", "Win", "confirm_win", "reject_win", "win_state"]
