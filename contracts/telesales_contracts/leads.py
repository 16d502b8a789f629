"""Events of the lead domain: what outside systems send in and what lead-intake emits."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

ShortText = Annotated[str, StringConstraints(max_length=200)]


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

    model_config = ConfigDict(extra="forbid")

    logins_7d: int = Field(default=0, ge=0, le=100_000, description="Logins in the last 7 days.")
    page_view_seconds: int = Field(default=0, ge=0, le=10_000_000, description="Longest page view, seconds.")
    unpaid_order: bool = Field(default=False, description="The person left an order unpaid.")


class LeadReceived(BaseModel):
    """A raw lead from any outside system (web form, app, dialer, CRM, purchased list, crawl).

    At least one of phone or email is needed; everything else is optional. Unknown fields are refused
    so that a misspelled field is reported instead of silently dropped.
    """

    model_config = ConfigDict(extra="forbid")

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


class LeadMerged(BaseModel):
    """A lead arrived again (same phone or email): its touch was appended to the existing lead."""

    model_config = ConfigDict(extra="ignore")

    lead_id: str
    matched_on: Literal["phone", "email"]
    touch: SourceTouch
    touches: int = Field(ge=2, description="Touches on the lead after this merge.")


class RejectionReason(StrEnum):
    INVALID_NUMBER = "invalid_number"
    IMPOSSIBLE_NUMBER = "impossible_number"
    TEST_NUMBER = "test_number"
    DO_NOT_CALL = "do_not_call"
    NO_CONTACT = "no_contact"
    INVALID_EMAIL = "invalid_email"
    NUMBER_UNREACHABLE = "number_unreachable"


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
    """How a lead ended (from the allocator, or an outside CRM): trains the scoring model."""

    model_config = ConfigDict(extra="forbid")

    lead_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    outcome: Literal["won", "lost"]
    business_line: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="Defaults to the lead's own business line."
    )
    amount_fen: int | None = Field(default=None, ge=0, description="Sale amount in fen, for won leads.")

    @field_validator("amount_fen")
    @classmethod
    def _amount_only_when_won(cls, value: int | None, info) -> int | None:  # type: ignore[no-untyped-def]
        if value is not None and info.data.get("outcome") == "lost":
            raise ValueError("amount_fen is only meaningful for a won lead")
        return value
