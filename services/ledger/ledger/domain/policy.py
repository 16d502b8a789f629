"""A tenant's ledger rules: revenue share, daily limits against fake purchases, the days without learning
before a reclaim, hold timeout, and how coins come back after a reclaim (approval levels, qualification)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from pydantic import BaseModel, ConfigDict, Field, field_validator

from telesales_contracts.ledger import ApprovalLevel

from .changes import Record
from .learning import LearningTotals


class DailyLimits(BaseModel):
    """Limits against fake purchases (刷单), per business day; null = no limit."""

    model_config = ConfigDict(extra="forbid")

    buyer_daily_count: int | None = Field(default=20, ge=1, description="Purchases per buyer per day.")
    buyer_daily_coins: int | None = Field(default=2000, ge=1, description="Coins spent per buyer per day.")
    pair_daily_count: int | None = Field(default=3, ge=1, description="Purchases per buyer from one seller per day.")
    pair_daily_coins: int | None = Field(default=None, ge=1, description="Coins per buyer to one seller per day.")


class Qualification(BaseModel):
    """资格条件: what a user whose coins were reclaimed must have learned since the reclaim before coins come
    back (checked when the request is made and again at the last approval)."""

    model_config = ConfigDict(extra="forbid")

    min_learning_minutes: int = Field(default=30, ge=0, le=100_000, description="Minutes of tips watched since "
                                      "the reclaim (marketplace.learn-progressed.v1).")
    min_tips_learned: int = Field(default=0, ge=0, le=1000, description="Tips learned (watched to the end) since "
                                  "the reclaim.")

    def unmet(self, done: LearningTotals) -> list[Record]:
        """The conditions not met by the learning `done` since the reclaim, each with what it requires."""
        unmet: list[Record] = []
        if done.seconds < self.min_learning_minutes * 60:
            unmet.append({"condition": "min_learning_minutes", "required": self.min_learning_minutes,
                          "done": done.seconds // 60})
        if done.tips < self.min_tips_learned:
            unmet.append({"condition": "min_tips_learned", "required": self.min_tips_learned, "done": done.tips})
        return unmet


class ReallocationPolicy(BaseModel):
    """Getting coins back after a reclaim: the approval chain (层层审批), in order, and the qualification."""

    model_config = ConfigDict(extra="forbid")

    approval_levels: list[ApprovalLevel] = Field(
        default_factory=lambda: [ApprovalLevel.SUPERVISOR, ApprovalLevel.MANAGER], min_length=1, max_length=3,
        description="Who approves, in order: supervisor (of the user's team, on the roster), manager (on the "
                    "roster), operator. Each level approves once, after the level before it.")
    qualification: Qualification = Field(default_factory=Qualification)

    @field_validator("approval_levels")
    @classmethod
    def _each_level_once(cls, levels: list[ApprovalLevel]) -> list[ApprovalLevel]:
        if len(set(levels)) != len(levels):
            raise ValueError("each approval level may appear once")
        return levels


class LedgerPolicy(BaseModel):
    """A tenant's ledger rules (GET/PUT /v1/config/policy)."""

    model_config = ConfigDict(extra="forbid")

    seller_share_percent: int = Field(default=100, ge=0, le=100, description="The seller's share of a price; the "
                                      "rest (rounded in the platform's favour) goes back to the budget.")
    daily_limits: DailyLimits = Field(default_factory=DailyLimits)
    idle_days: int | None = Field(default=30, ge=1, le=3650, description="A wallet whose holder learned nothing "
                                  "(no marketplace.learn-progressed.v1 adding watch time) this many days goes back "
                                  "to the budget (不学回收; spending does not keep coins); null turns reclaim off.")
    hold_timeout_seconds: int = Field(default=900, ge=1, le=7 * 86400, description="Default life of a hold.")
    reallocation: ReallocationPolicy = Field(default_factory=ReallocationPolicy)


def split_revenue(price: int, seller_share_percent: int) -> tuple[int, int]:
    """(seller's amount, platform's amount): the seller's share rounded down, the rest to the platform."""
    seller = price * seller_share_percent // 100
    return seller, price - seller


def business_day(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).date().isoformat()
