"""A tenant's ledger rules: revenue share, daily limits against fake purchases, idle days, hold timeout."""

from __future__ import annotations

from datetime import datetime, tzinfo

from pydantic import BaseModel, ConfigDict, Field


class DailyLimits(BaseModel):
    """Limits against fake purchases (刷单), per business day; null = no limit."""

    model_config = ConfigDict(extra="forbid")

    buyer_daily_count: int | None = Field(default=20, ge=1, description="Purchases per buyer per day.")
    buyer_daily_coins: int | None = Field(default=2000, ge=1, description="Coins spent per buyer per day.")
    pair_daily_count: int | None = Field(default=3, ge=1, description="Purchases per buyer from one seller per day.")
    pair_daily_coins: int | None = Field(default=None, ge=1, description="Coins per buyer to one seller per day.")


class LedgerPolicy(BaseModel):
    """A tenant's ledger rules (GET/PUT /v1/config/policy)."""

    model_config = ConfigDict(extra="forbid")

    seller_share_percent: int = Field(default=100, ge=0, le=100, description="The seller's share of a price; the "
                                      "rest (rounded in the platform's favour) goes back to the budget.")
    daily_limits: DailyLimits = Field(default_factory=DailyLimits)
    idle_days: int | None = Field(default=30, ge=1, le=3650, description="A wallet unused this many days goes back "
                                  "to the budget (回收); null turns idle reclaim off.")
    hold_timeout_seconds: int = Field(default=900, ge=1, le=7 * 86400, description="Default life of a hold.")


def split_revenue(price: int, seller_share_percent: int) -> tuple[int, int]:
    """(seller's amount, platform's amount): the seller's share rounded down, the rest to the platform."""
    seller = price * seller_share_percent // 100
    return seller, price - seller


def business_day(at: datetime, tz: tzinfo) -> str:
    return at.astimezone(tz).date().isoformat()
