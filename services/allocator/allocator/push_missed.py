"""What the API says of a push on arrival that could not place a lead (the allocator notes it on the lead:
`push_missed`, while the lead waits in its pool)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class PushMissedView(BaseModel):
    """Why the push on arrival could not place a lead that is still pooled (it waits to be claimed)."""

    code: str = Field(description="no_eligible_agent, target_at_cap, target_not_in_team, unknown_strategy, "
                                  "no_team, unknown_team, resting, taken_meanwhile, or a refusal's code.")
    reason: str = Field(description="As the allocator recorded it (the code, maybe with a detail).")
    at: datetime


def push_missed_view(doc: dict[str, Any]) -> PushMissedView | None:
    """The note of a missed push, while the lead is still pooled (a later hold makes it history)."""
    missed = doc.get("push_missed")
    if not missed or doc.get("status") != "pooled":
        return None
    reason = str(missed.get("reason") or "")
    return PushMissedView(code=reason.split(" ", 1)[0], reason=reason, at=missed["at"])
