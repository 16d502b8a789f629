"""HTTP request and response bodies of lead-intake (event payloads live in contracts/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from telesales_contracts.consent import ScopeConsent
from telesales_contracts.leads import ExternalRef, ModelContribution, NumberCheck, ScoreContribution, SourceTouch
from telesales_runtime.logs import mask_value
from telesales_runtime.masking import mask_email, mask_name, mask_phone

from .domain import lead_extra


class Accepted(BaseModel):
    event_id: str = Field(description="Id of the leads.received.v1 event; idempotency key of the lead.")
    status_url: str = Field(description="Where to ask what became of the lead.")


SUBMISSION_OUTCOMES = ("qualified", "merged", "rejected")


class SubmissionStatus(BaseModel):
    event_id: str
    status: Literal["pending", "qualified", "merged", "rejected"]
    lead_id: str | None = None
    matched_on: str | None = Field(default=None, description="phone, email, or external_ref: the same outside "
                                                             "record again, whose touch was updated")
    reasons: list[dict[str, Any]] = Field(default_factory=list)
    consent: str | None = Field(default=None, description="What became of the lead's consent statement when it "
                                                          "was not simply kept: why it was not believed, or which "
                                                          "scopes it granted or withdrew on a known lead.")
    processed_at: datetime | None = None


class RowError(BaseModel):
    row: int = Field(description="1-based data row (the CSV header is row 0).")
    error: str


class ImportResult(BaseModel):
    import_id: str
    rows: int
    accepted: int
    invalid: int
    errors: list[RowError] = Field(description="The first 100 invalid rows.")


class TouchView(SourceTouch):
    extra: dict[str, JsonValue] = Field(default_factory=dict, description="Fields this arrival came with that the "
                                                                          "contract does not name.")


class LeadView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    lead_id: str
    tenant_id: str
    phone_e164: str | None
    email: str | None
    name: str | None
    company: str | None
    channel: str
    channel_raw: str | None
    business_line: str
    product_interest: str | None
    region: str | None
    carrier: str | None
    number_type: str | None
    number_check: NumberCheck | None
    score: int
    grade: str
    rule_score: int
    score_breakdown: list[ScoreContribution]
    model: ModelContribution | None
    touches: list[TouchView]
    touches_count: int
    notes: str | None
    attributes: dict[str, str]
    external_refs: list[ExternalRef] = Field(default_factory=list, description="Every outside system's own "
                                             "reference of the lead (system and its id of the lead).")
    extra: dict[str, JsonValue] = Field(default_factory=dict, description="Fields the lead came with that the "
                                        "contract does not name, under their own names (a later touch's over an "
                                        "earlier's).")
    outcome: dict[str, Any] | None = None
    consent: list[ScopeConsent] = Field(default_factory=list, description="The person's consent: the latest "
                                        "statement per scope (telemarketing, sms, email); empty: none stated.")
    received_at: datetime
    created_at: datetime
    updated_at: datetime
    masked: bool = Field(default=False, description="Phone, name and email masked (138****5678, 张*), and phone "
                         "numbers and names in the extra fields: the caller's role may not see them (only admin "
                         "and service see them in full here).")

    @classmethod
    def from_doc(cls, doc: dict[str, Any], *, mask: bool = False) -> LeadView:
        outcome = doc.get("outcome")
        if outcome:  # `counted` is the model's bookkeeping (what to take back if the outcome changes), not the lead's
            outcome = {k: v for k, v in outcome.items() if k != "counted"}
        view = cls.model_validate({**doc, "lead_id": doc["_id"], "outcome": outcome,
                                   "extra": lead_extra(doc.get("touches") or ())})
        if not mask:
            return view
        # An outside system's own fields may hold numbers and names too: masked as log fields are.
        touches = [t.model_copy(update={"extra": mask_value(t.extra)}) for t in view.touches]
        return view.model_copy(update={"phone_e164": mask_phone(view.phone_e164), "name": mask_name(view.name),
                                       "email": mask_email(view.email), "extra": mask_value(view.extra),
                                       "touches": touches, "masked": True})


class LeadPage(BaseModel):
    items: list[LeadView]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class DoNotCallIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500)


class DoNotCallEntry(BaseModel):
    """A listed number as the list keeps it: masked (the list keeps only its blind index and this display)."""

    model_config = ConfigDict(extra="ignore")

    phone_masked: str = Field(description="The number masked (+86139****5678): the list never keeps it in full.")
    reason: str | None = Field(default=None, description="Why, with any phone number in it masked.")
    added_at: datetime
    updated_at: datetime


class DoNotCallPage(BaseModel):
    items: list[DoNotCallEntry]
    next_cursor: str | None


class WeightsView(BaseModel):
    version: int = Field(description="0 while the defaults apply; send it back as If-Match to update safely.")
    weights: Any


class ModelView(BaseModel):
    business_line: str
    won: int
    lost: int
    active: bool = Field(description="Whether the model blends into scores under the current weights.")


class ConsentPolicyView(BaseModel):
    version: int = Field(description="Send it back in If-Match to change the policy only if nobody did since.")
    require_telemarketing_consent: bool = Field(description="Leads without the person's telemarketing consent are "
                                                            "rejected (no_consent) and never reach a pool.")
