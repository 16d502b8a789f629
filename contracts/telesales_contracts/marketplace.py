"""Events of the tips marketplace (锦囊集市): tips go draft -> submitted -> listed (or rejected against the
review checklist) -> delisted; agents buy them with coins (the ledger pays, see ledger.py), learn them,
rate and forward them; the marketplace flags deep learners, signals each user's first activity of a day,
and recommends tips of the call stage where an agent struggles most.

Prices are whole coins. Days are ISO dates in the marketplace's time zone."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from .ledger import DailyLimit, PurchaseRejection
from .roster import Identifier

TipId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class CallStage(StrEnum):
    """The five steps of a sales call (开场白、报价、异议处理、服务介绍、促成)."""

    OPENING = "opening"
    QUOTING = "quoting"
    OBJECTION_HANDLING = "objection_handling"
    SERVICE_INTRODUCTION = "service_introduction"
    CLOSING = "closing"


class ReviewDecision(StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"


class TipFacts(BaseModel):
    """What every tip-lifecycle event says of the version concerned."""

    model_config = ConfigDict(extra="forbid")

    tip_id: TipId
    version: int = Field(ge=1)
    author_id: Identifier
    title: Annotated[str, StringConstraints(min_length=1, max_length=120)]
    stage: CallStage
    product_line: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    price: int = Field(gt=0, le=1_000_000, description="Price in coins.")


class TipSubmitted(TipFacts):
    """An author submitted a version of a tip for review."""

    submitted_at: datetime


class TipReviewed(TipFacts):
    """A reviewer decided on a submitted version against the review checklist. `failed_checks` names the
    checklist items the version failed (empty when approved)."""

    reviewer_id: Identifier
    decision: ReviewDecision
    failed_checks: list[str] = Field(default_factory=list)
    comment: str | None = Field(default=None, max_length=2000)
    reviewed_at: datetime


class TipListed(TipFacts):
    """A version is now the one for sale (approved). `replaced_version` is the version it replaces."""

    replaced_version: int | None = None
    listed_at: datetime


class TipDelisted(BaseModel):
    """A tip was taken off sale; buyers keep their access."""

    model_config = ConfigDict(extra="forbid")

    tip_id: TipId
    version: int = Field(ge=1, description="The version that was listed.")
    author_id: Identifier
    delisted_by: Identifier
    reason: str | None = Field(default=None, max_length=2000)
    delisted_at: datetime


class PurchaseFacts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purchase_id: str = Field(description="Stable per buyer and tip.")
    transfer_id: str = Field(description="The ledger transfer of this attempt.")
    attempt: int = Field(ge=1, description="1, then one more after each refusal.")
    buyer_id: Identifier
    seller_id: Identifier
    tip_id: TipId
    version: int = Field(ge=1, description="The version listed when the purchase was asked for.")
    price: int = Field(gt=0)


class PurchaseRequested(PurchaseFacts):
    """A buyer asked to buy a tip; the ledger was asked to pay (ledger.transfer-requested.v1)."""

    requested_at: datetime


class PurchaseCompleted(PurchaseFacts):
    """The ledger paid: the buyer has access to the tip."""

    seller_amount: int = Field(ge=0)
    completed_at: datetime


class PurchaseRefused(PurchaseFacts):
    """The ledger refused to pay; the buyer has no access and may try again."""

    reason: PurchaseRejection
    limit: DailyLimit | None = None
    limit_value: int | None = None
    message: str
    refused_at: datetime


class TipVisited(BaseModel):
    """A user opened a tip's page."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    tip_id: TipId
    visited_at: datetime


class LearnProgressed(BaseModel):
    """A buyer watched (part of) a tip. `rewatch`: this session started after the tip was learned."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    tip_id: TipId
    session_id: str
    progress_percent: int = Field(ge=0, le=100, description="Furthest point reached, all sessions.")
    watched_seconds: int = Field(ge=0, description="Watch time of this tip, all sessions.")
    learned: bool = Field(description="Watched to the completion threshold at least once.")
    rewatch: bool
    rewatches: int = Field(ge=0)
    at: datetime


class TipRated(BaseModel):
    """A buyer rated the version they have (once per buyer and version)."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    tip_id: TipId
    version: int = Field(ge=1)
    author_id: Identifier
    stars: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=2000)
    rated_at: datetime


class TipForwarded(BaseModel):
    """A user recommended a tip to a colleague."""

    model_config = ConfigDict(extra="forbid")

    from_user_id: Identifier
    to_user_id: Identifier
    tip_id: TipId
    note: str | None = Field(default=None, max_length=500)
    forwarded_at: datetime


class ActivityKind(StrEnum):
    VISIT = "visit"
    PURCHASE = "purchase"
    LEARN = "learn"
    RATE = "rate"
    FORWARD = "forward"


class UserDailyActive(BaseModel):
    """A user's first activity in the marketplace on a day (one per user and day)."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    day: str = Field(description="ISO date in the marketplace's time zone.")
    first_activity: ActivityKind
    at: datetime


class DeepLearnerFlagged(BaseModel):
    """A user learned at least the threshold of tips and watched more than the threshold of time."""

    model_config = ConfigDict(extra="forbid")

    user_id: Identifier
    tips_learned: int = Field(ge=0)
    watched_seconds: int = Field(ge=0)
    min_tips: int
    min_seconds: int
    flagged_at: datetime


class FunnelStep(StrEnum):
    """Steps of an agent's funnel (the metrics service's per-agent rates), in funnel order."""

    CONNECT_60S = "connect_60s"  # connected calls that lasted 60 seconds (effective / placed calls)
    INTENT = "intent"  # customers who showed intent (intent / valid)
    AGREED_VISIT = "agreed_visit"  # customers who agreed to visit (agreed visits / intent)
    VISIT = "visit"  # customers who visited (actual visits / intent)
    PLAN = "plan"  # customers who got a plan / order (plan / actual visits)
    PAID = "paid"  # customers who paid (paid / plan)


class StruggleTrigger(StrEnum):
    """What made the marketplace recommend: someone asked (the API), the agent's funnel leaked at a step over
    the rolling window (the periodic job), or a call ended without progress at a stage."""

    REQUEST = "request"
    WINDOW = "window"
    CALL = "call"


class RecommendedTip(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tip_id: TipId
    version: int
    title: str
    price: int
    rating: float | None
    ratings: int


class StruggleRecommended(BaseModel):
    """Tips of the call stage where an agent struggles, that the agent neither bought nor wrote (for the
    agent's console, the dialer or the CRM). From the funnel (`trigger` request or window): the step where
    the agent's conversion falls furthest below its team's, with both rates; from a call (`trigger` call):
    no step nor rates, the stage the call ended at without progress. A push (window, call) carries the one
    best-rated such tip not recommended to the agent recently."""

    model_config = ConfigDict(extra="forbid")

    recommendation_id: str
    agent_id: Identifier
    team_id: Identifier | None = None
    trigger: StruggleTrigger = StruggleTrigger.REQUEST
    trigger_id: str | None = Field(default=None, description="What triggered a push: the calls.logged.v1 event "
                                   "id (call), or window|<agent>|<day> (window).")
    step: FunnelStep | None = Field(default=None, description="The lagging funnel step (none for a call).")
    agent_rate: float | None = Field(default=None, ge=0, le=1)
    team_rate: float | None = Field(default=None, ge=0, le=1)
    gap: float | None = Field(default=None, description="team_rate - agent_rate")
    stage: CallStage
    tips: list[RecommendedTip]
    recommended_at: datetime
