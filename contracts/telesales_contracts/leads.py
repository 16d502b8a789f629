"""Events of the lead domain: what outside systems send in and what lead-intake emits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    field_validator,
    model_validator,
)

from . import tolerant
from .consent import Consent, ScopeConsent

ShortText = Annotated[str, StringConstraints(max_length=200)]


def _id_text(value: Any) -> Any:
    """An outside system's id is text or a whole number (CRMs send both); anything else is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise ValueError("an outside system's lead id is text or a whole number")
    return value


ExternalId = Annotated[str, BeforeValidator(_id_text), StringConstraints(min_length=1, max_length=200,
                                                                         strip_whitespace=True)]
SystemName = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]

# The names an outside system may give its own id of a lead (case and separators aside), in order of
# precedence after `external_id`: the first with a value is the lead's external id, the others stay extra
# fields. `lead_id` counts only on leads.received.v1 (on leads.outcome.v1 it is the platform's lead id).
EXTERNAL_ID_NAMES = ("source_lead_id", "external_lead_id", "external_ref", "external_reference", "crm_id",
                     "crm_lead_id", "partner_lead_id", "vendor_lead_id", "origin_lead_id", "ext_id", "ext_lead_id")
SOURCE_SYSTEM_NAMES = ("external_system", "origin_system")
# Outside references a lead keeps (one per outside record it came from); more are recorded on their touches only.
MAX_EXTERNAL_REFS = 200

EXTRA_DESCRIPTION = (
    f"Fields the contract does not name are kept under their own names (tolerant reader): at most "
    f"{tolerant.MAX_EXTRA_FIELDS}, names of 1-{tolerant.MAX_EXTRA_NAME} characters not starting with '$' and "
    f"without '.' or control characters, nested at most {tolerant.MAX_EXTRA_DEPTH} deep, "
    f"{tolerant.MAX_EXTRA_BYTES} bytes of JSON together; beyond that the event is refused, saying which bound. "
    f"A name that is a field's in another case or with other separators (Phone, businessLine) is that field.")


class ExternalRef(BaseModel):
    """An outside system's own reference of a lead: which system, and its id there."""

    model_config = ConfigDict(extra="ignore")

    source_system: str
    external_id: str


class Channel(StrEnum):
    """The fixed channel vocabulary every lead is mapped to."""

    SEARCH_ADS_SEO = "search_ads_seo"
    B2B_SITE = "b2b_site"
    VERTICAL_SITE = "vertical_site"
    SOCIAL_MEDIA = "social_media"
    FORUM = "forum"
    IM = "im"
    OFFLINE_MEDIA = "offline_media"
    DIRECTORY_CRAWL = "directory_crawl"
    INBOUND_CALL = "inbound_call"
    APP_EVENT = "app_event"
    UNKNOWN = "unknown"


class NumberType(StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed_line"
    FIXED_LINE_OR_MOBILE = "fixed_line_or_mobile"
    TOLL_FREE = "toll_free"
    VOIP = "voip"
    OTHER = "other"
    UNKNOWN = "unknown"


class Behaviour(BaseModel):
    """Behaviour signals an outside system observed before handing the lead over."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"description": EXTRA_DESCRIPTION})

    logins_7d: int = Field(default=0, ge=0, le=100_000, description="Logins in the last 7 days.")
    page_view_seconds: int = Field(default=0, ge=0, le=10_000_000, description="Longest page view, seconds.")
    unpaid_order: bool = Field(default=False, description="The person left an order unpaid.")


class LeadReceived(BaseModel):
    """A raw lead from any outside system (web form, app, dialer, CRM, purchased list, crawl).

    At least one of phone or email is needed; everything else is optional. Fields the contract does not name
    are kept with the lead under their own names (`model_extra`, within bounds: see EXTRA_DESCRIPTION). The
    outside system's own id of the lead is `external_id`, whatever it calls it (EXTERNAL_ID_NAMES, or
    `lead_id`); the system is `source_system`, else the event's `source`.

    The record's key is the source's own reference of the lead (its external id, else the event id), never a
    personal value (a phone number, email or name): a key is not encrypted, and every client, log and dead
    letter shows it.
    """

    model_config = ConfigDict(extra="allow", json_schema_extra={"description": EXTRA_DESCRIPTION})

    name: ShortText | None = None
    phone: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        default=None, description="As typed: spaces, dashes, +86, full-width digits are all accepted."
    )
    phone_region: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")] | None = Field(
        default=None, description="ISO 3166 region to read a national number in; the service default otherwise."
    )
    email: Annotated[str, StringConstraints(max_length=254)] | None = None
    company: ShortText | None = None
    channel: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="Channel as the source names it; mapped to the fixed vocabulary."
    )
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] = "default"
    product_interest: ShortText | None = None
    region: ShortText | None = Field(default=None, description="Region as the source knows it (free text).")
    notes: Annotated[str, StringConstraints(max_length=4000)] | None = Field(
        default=None, description="Free text, kept as given."
    )
    behaviour: Behaviour | None = None
    attributes: dict[Annotated[str, StringConstraints(max_length=64)], ShortText] = Field(
        default_factory=dict, max_length=50, description="Source-specific key/value pairs, kept as given."
    )
    source_system: SystemName | None = Field(
        default=None, description=f"The system that produced the lead, when the event's `source` does not name it "
                                  f"(e.g. a gateway forwarding several CRMs); the `source` otherwise. Also read "
                                  f"from {', '.join(SOURCE_SYSTEM_NAMES)}.")
    external_id: ExternalId | None = Field(
        default=None, description=f"The producing system's own id of the lead, also read from (in this order) "
                                  f"{', '.join(EXTERNAL_ID_NAMES)} or lead_id, in any case or with any "
                                  f"separators. Every answer (leads.qualified/merged/rejected/outcome.v1) "
                                  f"carries it; a second lead with the same system and id updates that touch.")
    consent: Consent | None = Field(default=None, description="What the person agreed to be contacted by, as "
                                                              "this source states it (see Consent).")

    @model_validator(mode="before")
    @classmethod
    def _read_tolerantly(cls, data: Any) -> Any:
        return tolerant.read(data, RECEIVED_NAMES)

    def extra_fields(self) -> dict[str, JsonValue]:
        """What the lead carries beyond the contract, under its own names (behaviour's under `behaviour`)."""
        extra = dict(self.model_extra or {})
        if self.behaviour is not None and self.behaviour.model_extra:
            extra["behaviour"] = dict(self.behaviour.model_extra)
        return extra


class NumberCheck(BaseModel):
    model_config = ConfigDict(extra="ignore")

    checker: str = Field(description="Which checker answered, e.g. offline or http.")
    status: Literal["ok", "invalid", "do_not_call", "unreachable", "unverified"]
    detail: str | None = None


class ScoreContribution(BaseModel):
    """One feature's share of the score: the explanation a manager can read."""

    model_config = ConfigDict(extra="ignore")

    feature: str
    value: str
    points: float


class ModelContribution(BaseModel):
    """The learned (naive-Bayes) part of the score, when enough outcomes exist."""

    model_config = ConfigDict(extra="ignore")

    probability_won: float = Field(ge=0, le=1)
    blend_weight: float = Field(ge=0, le=1)
    outcomes_used: int = Field(ge=0)
    feature_log_odds: dict[str, float] = Field(default_factory=dict)


class SourceTouch(BaseModel):
    """One arrival of a lead from a source; a merged lead keeps every touch."""

    model_config = ConfigDict(extra="ignore")

    event_id: str
    source: str
    channel: Channel
    channel_raw: str | None = None
    received_at: datetime
    source_system: str | None = Field(default=None, description="The producing system: the lead's source_system, "
                                                                "else the event's source.")
    external_id: str | None = Field(default=None, description="The producing system's own id of the lead.")
    event_type: str | None = Field(default=None, description="The event's type as the producer spelled it.")


class LeadQualified(BaseModel):
    """A cleaned, enriched, scored lead, ready for the pools."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    phone_e164: str | None
    email: str | None
    name: str | None
    company: str | None
    channel: Channel
    channel_raw: str | None
    business_line: str
    product_interest: str | None
    region: str | None = Field(description="Region from the number (or the source's hint when no number).")
    carrier: str | None
    number_type: NumberType | None
    number_check: NumberCheck | None
    score: int = Field(ge=0, le=100)
    grade: Literal["A", "B", "C", "D"]
    score_breakdown: list[ScoreContribution]
    model: ModelContribution | None = None
    touch: SourceTouch
    notes: str | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    external_refs: list[ExternalRef] = Field(default_factory=list, max_length=MAX_EXTERNAL_REFS,
                                             description="Every outside system's own reference of the lead.")
    extra: dict[str, JsonValue] = Field(default_factory=dict,
                                        description="Fields the lead came with that the contract does not name, "
                                                    "under their own names.")
    consent: list[ScopeConsent] = Field(default_factory=list, description="The lead's consent: the latest "
                                        "statement per scope (empty: none stated).")


class LeadMerged(BaseModel):
    """A lead arrived again: its touch was appended to the existing lead (same phone or email), or the same
    outside record came again (same system and external id: `external_ref`) and its touch was updated."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    matched_on: Literal["phone", "email", "external_ref"]
    touch: SourceTouch
    touches: int = Field(ge=1, description="Touches on the lead after this merge.")
    external_refs: list[ExternalRef] = Field(default_factory=list, max_length=MAX_EXTERNAL_REFS,
                                             description="Every outside system's own reference of the lead, this "
                                                         "touch's included.")
    extra: dict[str, JsonValue] = Field(default_factory=dict,
                                        description="Fields this arrival came with that the contract does not "
                                                    "name, under their own names.")


class RejectionReason(StrEnum):
    INVALID_NUMBER = "invalid_number"
    IMPOSSIBLE_NUMBER = "impossible_number"
    TEST_NUMBER = "test_number"
    DO_NOT_CALL = "do_not_call"
    NO_CONTACT = "no_contact"
    INVALID_EMAIL = "invalid_email"
    NUMBER_UNREACHABLE = "number_unreachable"
    NO_CONSENT = "no_consent"  # telemarketing withdrawn, or not given where the tenant requires it


class Rejection(BaseModel):
    model_config = ConfigDict(extra="ignore")

    code: RejectionReason
    message: str


class LeadRejected(BaseModel):
    """A lead judged junk; it never enters a pool."""

    model_config = ConfigDict(extra="ignore")

    reasons: list[Rejection] = Field(min_length=1)
    phone_raw: str | None
    phone_e164: str | None
    email: str | None
    channel: Channel
    business_line: str
    touch: SourceTouch


class LeadOutcome(BaseModel):
    """How a lead ended (from the allocator, or an outside CRM): trains the scoring model.

    The lead is named by `lead_id`, or by an outside system's reference: `external_id` (whatever the CRM calls
    it, as on leads.received.v1 but for lead_id) with `source_system`, else the event's `source`. The
    allocator's outcomes carry every outside reference of the lead (`external_refs`). Fields the contract does
    not name are kept (see EXTRA_DESCRIPTION)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"description": EXTRA_DESCRIPTION})

    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="The platform's lead id; or name the lead by external_id.")
    source_system: SystemName | None = Field(default=None, description="The system external_id belongs to; the "
                                                                       "event's source otherwise.")
    external_id: ExternalId | None = Field(default=None, description=f"The outside system's id of the lead, also "
                                                                     f"read from {', '.join(EXTERNAL_ID_NAMES)}.")
    external_refs: list[ExternalRef] = Field(default_factory=list, max_length=MAX_EXTERNAL_REFS,
                                             description="Every outside system's own reference of the lead.")
    outcome: Literal["won", "lost"]
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="Defaults to the lead's own business line."
    )
    amount_fen: int | None = Field(default=None, ge=0, description="Sale amount in fen, for won leads.")
    order_ref: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The order's reference in the CRM or payment system that took it. A won outcome "
                                  "from outside the platform confirms the agent's win (the allocator counts "
                                  "only confirmed wins toward grades and rankings).")

    @model_validator(mode="before")
    @classmethod
    def _read_tolerantly(cls, data: Any) -> Any:
        return tolerant.read(data, OUTCOME_NAMES)

    @field_validator("amount_fen")
    @classmethod
    def _amount_only_when_won(cls, value: int | None, info) -> int | None:  # type: ignore[no-untyped-def]
        if value is not None and info.data.get("outcome") == "lost":
            raise ValueError("amount_fen is only meaningful for a won lead")
        return value

    @model_validator(mode="after")
    def _names_a_lead(self) -> LeadOutcome:
        if self.lead_id is None and self.external_id is None:
            raise ValueError(f"an outcome names its lead: lead_id, or external_id (or {', '.join(EXTERNAL_ID_NAMES)})")
        return self


RECEIVED_NAMES = tolerant.register(LeadReceived, tolerant.Vocabulary(
    frozenset(LeadReceived.model_fields),
    {"external_id": (*EXTERNAL_ID_NAMES, "lead_id"), "source_system": SOURCE_SYSTEM_NAMES},
    {"behaviour": tolerant.Vocabulary(frozenset(Behaviour.model_fields))}))
OUTCOME_NAMES = tolerant.register(LeadOutcome, tolerant.Vocabulary(
    frozenset(LeadOutcome.model_fields), {"external_id": EXTERNAL_ID_NAMES, "source_system": SOURCE_SYSTEM_NAMES}))


def names_lead_field(name: str) -> bool:
    """Whether a flat column (CSV) called `name` is read as a plain field of LeadReceived: the field's name in any
    spelling, or a name of the outside id or system (not behaviour, attributes or consent, which are objects)."""
    target = RECEIVED_NAMES.target(name)
    return target is not None and target[0] not in ("behaviour", "attributes", "consent")
