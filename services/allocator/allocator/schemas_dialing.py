"""The dial question's request and answer (`POST /v1/leads/{lead_id}/dial`), with the middle number bound
when the tenant calls through a number-privacy provider."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from telesales_contracts.roster import Identifier

DialRefusal = Literal["resting", "do_not_call", "not_held", "not_the_holder", "closed", "won", "no_number"]


class DialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_id: Identifier | None = Field(default=None, description="Who would dial; the caller when omitted (a "
                                        "dialer or a supervisor names the agent).")
    agent_number: str | None = Field(default=None, pattern=r"^\+?[0-9]{2,15}$", description="The number or "
                                     "extension the agent calls from, when the dialer knows it: the provider "
                                     "binds the middle number to it too (AXB).")
    check_only: bool = Field(default=False, description="Only whether the agent may dial now: no middle number "
                             "is bound (the console asks so when it logs a call).")


class DialBinding(BaseModel):
    """The middle number to dial instead of the customer's number, and until when it reaches them."""

    middle_number: str = Field(description="Dial this number: the provider connects it to the customer.")
    binding_id: str = Field(description="The provider's id of the binding.")
    expires_at: datetime = Field(description="After this the middle number no longer reaches the customer.")
    provider: Literal["simulated", "http"]


class DialAnswer(BaseModel):
    """May this agent dial this lead now? A refusal is an answer (200), not an error."""

    lead_id: str
    agent_id: str
    allowed: bool
    reason: DialRefusal | None = Field(description="Why not (null when allowed): `resting` (contact pressure, "
                                       "until `rest_until`), `do_not_call` (the number is on the list), "
                                       "`not_held` (pooled: claim it first), `not_the_holder`, `closed`, `won`, "
                                       "`no_number` (nothing to bind a middle number to).")
    detail: str | None = Field(description="The reason in words.")
    rest_until: datetime | None = Field(description="When the lead may be dialled again (reason `resting`).")
    binding: DialBinding | None = Field(default=None, description="When the tenant calls through a "
                                        "number-privacy provider and the dial is allowed (not `check_only`): the "
                                        "middle number to dial. The customer's number is never in this answer.")
