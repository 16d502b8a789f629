"""Whether an agent may dial a lead now, and the lead's states the rule reads. Pure (no I/O).

Only its holder may dial a lead, and not while it rests (contact pressure binds the holder too), nor ever
once its number is on the tenant's do-not-call list, whatever lead the number is reached through.

Calls without the number: a tenant whose policy names a number-privacy provider gets a middle number bound
to the customer for each allowed dial (never for a refused one), and the answer carries that binding, not
the number; with `masked_dialing_only` nobody is shown the tenant's numbers in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

POOLED = "pooled"
HELD = "held"
CLOSED = "closed"
WON = "won"
DO_NOT_CALL = "do_not_call"

PrivacyProviderName = Literal["none", "simulated", "http"]
# Why a lead view shows a number masked to someone who may otherwise see it (LeadView.masked_reason).
MASKED_DIALING_ONLY = "masked_dialing_only"
DialPlan = Literal["refused", "direct", "bind"]


@dataclass(frozen=True, slots=True)
class DialVerdict:
    """Whether an agent may dial a lead now; `reason` (a stable code) and `detail` when not."""

    allowed: bool
    reason: str | None = None
    detail: str | None = None
    rest_until: datetime | None = None


def dial_verdict(*, status: str, holder: str | None, rest_until: datetime | None, agent_id: str, now: datetime,
                 number_listed: bool) -> DialVerdict:
    """May `agent_id` dial a lead in `status` held by `holder` and resting until `rest_until`, now?
    `number_listed`: its number is on the tenant's do-not-call list."""
    if status == DO_NOT_CALL or number_listed:
        return DialVerdict(False, "do_not_call", "the number is on the do-not-call list")
    if status in (CLOSED, WON):
        return DialVerdict(False, status, f"the lead is {status}; nobody holds it")
    if status != HELD:
        return DialVerdict(False, "not_held", "the lead is in a public pool: claim it first")
    if holder != agent_id:
        return DialVerdict(False, "not_the_holder", f"{agent_id} does not hold the lead")
    if rest_until is not None and rest_until > now:
        return DialVerdict(False, "resting", f"contact pressure: the lead rests until {rest_until.isoformat()}",
                           rest_until=rest_until)
    return DialVerdict(True)


def dial_plan(verdict: DialVerdict, *, provider: PrivacyProviderName, has_number: bool) -> tuple[DialPlan, DialVerdict]:
    """What an answer to a dial does: `refused` (the verdict's refusal; nothing is bound), `direct` (no
    provider: the agent dials the number), `bind` (a middle number is bound for the allowed dial). A lead
    without a number has nothing to bind: refused (`no_number`)."""
    if not verdict.allowed:
        return "refused", verdict
    if provider == "none":
        return "direct", verdict
    if not has_number:
        return "refused", DialVerdict(False, "no_number", "the lead has no number to call through a middle number")
    return "bind", verdict


def shows_number(*, may_see: bool, masked_dialing_only: bool) -> bool:
    """A number is shown in full only to who may see it, and never in a tenant that calls only through middle
    numbers (there nobody needs it: the provider dials it)."""
    return may_see and not masked_dialing_only


def binding_reference(*, tenant: str, lead_id: str, agent_id: str) -> str:
    """What names a binding to the provider: one agent dialling one lead of one tenant (the same reference
    while its binding lives gets that binding back)."""
    return f"{tenant}:{lead_id}:{agent_id}"


def binding_outlived(*, status: str, holder: str | None, agent_id: str) -> bool:
    """A binding made for `agent_id` must end once the lead is no longer held by that agent (given back,
    reclaimed, pushed to another, closed, won, put on the do-not-call list): it would still connect them."""
    return status != HELD or holder != agent_id
