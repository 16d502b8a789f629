"""Whether an agent may dial a lead now, and the lead's states the rule reads. Pure (no I/O).

Only its holder may dial a lead, and not while it rests (contact pressure binds the holder too), nor ever
once its number is on the tenant's do-not-call list, whatever lead the number is reached through."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

POOLED = "pooled"
HELD = "held"
CLOSED = "closed"
WON = "won"
DO_NOT_CALL = "do_not_call"


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
