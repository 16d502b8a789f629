"""What happens to a lead while it is worked: calls from the dialer, stage changes from agents or a
CRM, complaints, and behaviour signals from the customer's side (web, app, points mall)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from .envelope import FROM_OUTSIDE, AwareDatetime
from .marketplace import CallStage
from .roster import Identifier

LeadId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
E164 = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")]


class FunnelStep(StrEnum):
    """Funnel steps in order: valid contact -> intent -> agreed to visit -> visited -> plan -> paid."""

    VALID = "valid"
    INTENT = "intent"
    AGREED_VISIT = "agreed_visit"
    ACTUAL_VISIT = "actual_visit"
    PLAN = "plan"
    PAID = "paid"


FUNNEL_ORDER: tuple[FunnelStep, ...] = tuple(FunnelStep)

# Development stage (0-100 %) in five layers, each with its own goal.
STAGE_LAYERS: tuple[tuple[str, int, int], ...] = (
    ("verified_contact", 0, 20),
    ("need_found", 20, 40),
    ("plan_and_payment_date", 40, 60),
    ("contract_and_deposit", 60, 80),
    ("paid_in_full", 80, 100),
)


def stage_layer(stage_percent: int) -> str:
    """The layer a stage falls in: 0-19 verified_contact, ..., 80-100 paid_in_full."""
    index = min(max(stage_percent, 0) // 20, len(STAGE_LAYERS) - 1)
    return STAGE_LAYERS[index][0]


class CallOutcome(StrEnum):
    """How a call ended, as the dialer or the agent tells it."""

    PROGRESSED = "progressed"  # the customer moved on (agreed to a next step, a visit, a plan, paid)
    NO_PROGRESS = "no_progress"  # the call ended where it stood


class CallLogged(BaseModel):
    """One call the dialer placed (or received) for a lead. `stage_reached` and `outcome` are optional (a
    dialer that does not know them leaves them out): a call that ends without progress at a stage is a
    difficulty the marketplace answers with a tip of that stage (the struggle push)."""

    model_config = FROM_OUTSIDE

    call_id: Identifier | None = Field(default=None, description="The dialer's id of the call, if it has one.")
    agent_id: Identifier
    lead_id: LeadId
    started_at: AwareDatetime
    duration_seconds: int = Field(ge=0, le=86_400)
    connected: bool
    stage_reached: CallStage | None = Field(default=None, description="The furthest of the five call stages the "
                                            "call reached (开场白、报价、异议处理、服务介绍、促成), when known.")
    outcome: CallOutcome | None = Field(default=None, description="Whether the call made progress, when known.")


class LeadStageChanged(BaseModel):
    """A lead moved to a development stage (and possibly a funnel step), set by its agent or a CRM."""

    model_config = FROM_OUTSIDE

    lead_id: LeadId
    stage_percent: int = Field(ge=0, le=100)
    funnel_step: FunnelStep | None = None
    agent_id: Identifier | None = Field(default=None, description="Who changed it, when an agent did.")
    deal_in_progress: bool | None = Field(default=None, description="A deal is being closed: exempt from reclaim. "
                                          "Unset keeps the lead's current flag.")
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None


class LeadComplaint(BaseModel):
    """The customer complained about being called: calls end and the number goes on do-not-call."""

    model_config = FROM_OUTSIDE

    lead_id: LeadId
    reason: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    phone_e164: E164 | None = Field(default=None, description="The number complained from, if known; "
                                    "the lead's own number otherwise.")


class DoNotCallSource(StrEnum):
    OPERATOR = "operator"  # put on (or taken off) the list over lead-intake's HTTP API
    COMPLAINT = "complaint"  # a complaint on leads.complaint.v1


# A number's keyed blind index (telesales_runtime.pii_crypto: HMAC-SHA256 under the tenant's index key, 128 bits,
# base64url): equal numbers give equal indexes, and nothing else can be learnt from it without the key.
BlindIndex = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{22}$")]
# A number as people may see it: country code, first three and last four digits (+86139****5678).
MaskedPhone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{0,8}\*{2,}[0-9]{0,4}$", max_length=24)]


class DoNotCallChanged(BaseModel):
    """A number went on a tenant's do-not-call list, or came off it. lead-intake owns the list; the
    allocator closes every lead with a listed number and refuses to dial it.

    The number itself is never on the topic (it is compacted and kept for ever): it is named by its blind
    index (`phone_bidx`, the index every service stores beside its sealed copy of the number, so consumers
    match their leads by it) and shown as `phone_masked`. The record's key is `<tenant>/<phone_bidx>`."""

    model_config = ConfigDict(extra="ignore")

    phone_bidx: BlindIndex | None = Field(default=None, description="The number's keyed blind index (the "
                                          "`phone_e164_bidx` of the services' stores). Always set by lead-intake.")
    phone_masked: MaskedPhone | None = Field(default=None, description="The number masked for display "
                                             "(+86139****5678): enough to recognise, not to dial.")
    phone_e164: E164 | None = Field(default=None,
                                    description="Deprecated, never written: the full number of records "
                                    "published before the topic was keyed by blind index (read only until "
                                    "`python -m lead_intake.dnc_migration` replaced them).")
    listed: bool = Field(description="true: on the list from now on; false: taken off (leads closed stay closed).")
    source: DoNotCallSource
    reason: Annotated[str, StringConstraints(max_length=1000)] | None = Field(
        default=None, description="Why, with any phone number in it masked.")
    lead_id: LeadId | None = Field(default=None, description="The lead a complaint was about, if any.")
    changed_at: AwareDatetime = Field(description="When the list changed: the later change of a number wins.")

    @model_validator(mode="after")
    def _names_a_number(self) -> DoNotCallChanged:
        if self.phone_bidx is None and self.phone_e164 is None:
            raise ValueError("a do-not-call change names its number by `phone_bidx`")
        return self


class SignalKind(StrEnum):
    UNPAID_ORDER = "unpaid_order"
    LONG_BROWSING = "long_browsing"
    REDEMPTION = "redemption"
    LEVEL_UP = "level_up"


class LeadSignal(BaseModel):
    """A moment that matters on the customer's side. Names the lead by id or, when the outside system
    does not know the id, by phone number (E.164)."""

    model_config = FROM_OUTSIDE

    lead_id: LeadId | None = None
    phone_e164: E164 | None = None
    kind: SignalKind
    detail: Annotated[str, StringConstraints(max_length=500)] | None = None
    occurred_at: AwareDatetime

    @model_validator(mode="after")
    def _names_a_lead(self) -> LeadSignal:
        if self.lead_id is None and self.phone_e164 is None:
            raise ValueError("a signal needs lead_id or phone_e164")
        return self
