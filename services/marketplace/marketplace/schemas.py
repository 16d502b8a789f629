"""Request and response bodies of the marketplace's HTTP API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from telesales_contracts.ledger import TransferId
from telesales_contracts.marketplace import CallStage, FunnelStep, RecommendedTip, StruggleTrigger, Tag, TipId
from telesales_contracts.roster import Identifier

Title = Annotated[str, StringConstraints(min_length=1, max_length=120, strip_whitespace=True)]
Summary = Annotated[str, StringConstraints(max_length=500)]
Body = Annotated[str, StringConstraints(max_length=50_000)]
ProductLine = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Price = Annotated[int, Field(gt=0, le=1_000_000, description="Price in coins.")]


class TipIn(BaseModel):
    """A new tip: version 1, a draft."""

    model_config = ConfigDict(extra="forbid")

    id: TipId | None = Field(default=None, description="Chosen by the client, or generated.")
    title: Title
    summary: Summary = ""
    body: Body = Field(default="", description="The script (text).")
    stage: CallStage
    product_line: ProductLine
    tags: list[Tag] = Field(default_factory=list, max_length=20, description="Scenario tags.")
    price: Price


class VersionPatch(BaseModel):
    """Changes to a draft or rejected version (or, for a new version, to the latest approved one)."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = None
    summary: Summary | None = None
    body: Body | None = None
    stage: CallStage | None = None
    product_line: ProductLine | None = None
    tags: list[Tag] | None = Field(default=None, max_length=20)
    price: Price | None = None

    def changes(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class ReviewIn(BaseModel):
    """The reviewer's answer to every item of the review checklist (GET /v1/review-checklist)."""

    model_config = ConfigDict(extra="forbid")

    checks: dict[str, bool]
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class DelistIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(max_length=2000)] | None = None


class MediaView(BaseModel):
    content_type: str
    length: int
    filename: str


class ReviewView(BaseModel):
    reviewer_id: str
    decision: str
    failed_checks: list[str]
    comment: str | None
    reviewed_at: datetime


class VersionView(BaseModel):
    tip_id: str
    version: int
    author_id: str
    status: str
    title: str
    summary: str | None
    body: str | None = Field(default=None, description="Only for those allowed to read it.")
    stage: CallStage
    product_line: str
    tags: list[str]
    price: int
    media: MediaView | None
    review: ReviewView | None = None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None


class TipView(BaseModel):
    tip_id: str
    author_id: str
    status: str
    latest_version: int
    listed_version: int | None
    title: str | None = None
    summary: str | None = None
    stage: CallStage | None = None
    product_line: str | None = None
    tags: list[str] = Field(default_factory=list)
    price: int | None = None
    has_media: bool = False
    rating: float | None = None
    ratings: int = 0
    sales: int = 0
    listed_at: datetime | None = None
    score: int | None = Field(default=None, description="Search tokens matched (relevance sort).")
    access: bool | None = Field(default=None, description="Whether the caller may read it (absent for machine clients).")


class TipPage(BaseModel):
    items: list[TipView]
    next_cursor: str | None


class PurchaseView(BaseModel):
    purchase_id: str
    buyer_id: str
    seller_id: str
    tip_id: str
    version: int
    price: int
    status: str = Field(description="pending (the ledger has not answered), granted, or refused.")
    attempt: int
    transfer_id: str
    requested_at: datetime
    granted_at: datetime | None = None
    seller_amount: int | None = None
    refusal: dict[str, Any] | None = Field(default=None, description="The ledger's reason, and the daily limit "
                                           "reached (reason daily_limit).")


class LearnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")] = Field(
        description="One per playback, chosen by the player.")
    progress_percent: int = Field(ge=0, le=100)
    session_seconds: int = Field(ge=0, le=86_400, description="Watch time of this playback so far (cumulative).")


class LearnView(BaseModel):
    tip_id: str
    user_id: str
    progress_percent: int
    watched_seconds: int
    learned: bool
    rewatches: int
    rewatch: bool
    tips_learned: int
    total_watched_seconds: int
    deep_learner: bool


class TipFunnelView(BaseModel):
    """A tip's funnel: reviews, then visits (page opens) -> purchases -> buyers who learned it."""

    tip_id: str
    reviews: int
    approvals: int
    visits: int
    sales: int
    learned: int
    forwards: int
    rewatchers: int = Field(description="Buyers who watched it again after learning it.")
    ratings: int
    review_pass_rate: float | None
    purchase_rate: float | None = Field(description="sales / visits")
    learn_rate: float | None = Field(description="learned / sales")
    forward_rate: float | None = Field(description="forwards / visits")
    rewatch_rate: float | None = Field(description="rewatchers / learned")


class LearnerView(BaseModel):
    user_id: str
    tips_learned: int
    watched_seconds: int
    deep_learner: bool
    flagged_at: datetime | None


class RatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stars: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(max_length=2000)] | None = None


class RatingView(BaseModel):
    tip_id: str
    version: int
    user_id: str
    stars: int
    comment: str | None
    rated_at: datetime


class ForwardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: Identifier
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class ForwardView(BaseModel):
    tip_id: str
    from_user_id: str
    to_user_id: str
    note: str | None
    forwarded_at: datetime


class VisitView(BaseModel):
    tip_id: str
    user_id: str
    visited_at: datetime


class SellerView(BaseModel):
    seller_id: str
    tips: int
    listed: int
    sales: int
    sales_coins: int = Field(description="Coins buyers paid for the seller's tips.")
    earnings: int = Field(description="Coins the seller received (after the platform's share).")
    ratings: int
    rating_avg: float | None


class SalesPage(BaseModel):
    items: list[PurchaseView]
    next_before: datetime | None


class RedemptionIn(BaseModel):
    """Redeem earnings in the points mall through the ledger (100 coins = 1 yuan)."""

    model_config = ConfigDict(extra="forbid")

    id: TransferId = Field(description="Idempotency key: a retry with the same id is answered once.")
    yuan: int = Field(ge=1, le=10_000)
    item: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class StruggleIn(BaseModel):
    """An agent's and its team's conversion rate per funnel step (as the metrics service computes them)."""

    model_config = ConfigDict(extra="forbid")

    team_id: Identifier | None = None
    agent: dict[FunnelStep, Annotated[float, Field(ge=0, le=1)]]
    team: dict[FunnelStep, Annotated[float, Field(ge=0, le=1)]]


class StruggleView(BaseModel):
    recommendation_id: str | None
    agent_id: str
    trigger: StruggleTrigger = Field(default=StruggleTrigger.REQUEST, description="request (this API), window "
                                     "(the rolling window's job) or call (a call that ended without progress).")
    trigger_id: str | None = None
    step: FunnelStep | None = Field(description="None when the agent is at or above its team at every step.")
    stage: CallStage | None
    agent_rate: float | None = None
    team_rate: float | None = None
    gap: float | None = None
    tips: list[RecommendedTip]
