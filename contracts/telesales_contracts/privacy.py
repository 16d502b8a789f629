"""Erasure of a person's data: requested once (by lead ids, never by the number or name being erased, so the
event does not spread what it erases), handled by every service, each answering when its part is done."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

LeadId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,39}$")]


class ErasureRequested(BaseModel):
    """Erase (remove or irreversibly anonymise) the personal data of these leads everywhere. Carries ids only."""

    model_config = ConfigDict(extra="ignore")

    request_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    lead_ids: list[LeadId] = Field(max_length=1000, description="The tenant's leads of the person (or, for a "
                                   "retention sweep, the leads past the tenant's retention).")
    reason: Literal["request", "retention"] = Field(description="A person's request, or the tenant's retention.")


class ErasureCompleted(BaseModel):
    """A service erased its copies of an erasure request's leads (a redelivered request answers again)."""

    model_config = ConfigDict(extra="ignore")

    request_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    service: ServiceName
    counts: dict[Annotated[str, StringConstraints(max_length=64)], Annotated[int, Field(ge=0)]] = Field(
        default_factory=dict, description="Documents anonymised or removed, per collection (or cache).")
