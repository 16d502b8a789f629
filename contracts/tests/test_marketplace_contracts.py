"""Tests of the marketplace's contracts: tip lifecycle, purchases, activity and recommendations."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from telesales_contracts.ledger import DailyLimit, PurchaseRejection
from telesales_contracts.marketplace import (
    CallStage,
    FunnelStep,
    PurchaseRefused,
    RecommendedTip,
    StruggleRecommended,
    TipListed,
    TipRated,
    TipSubmitted,
)
from telesales_contracts.topics import (
    MARKETPLACE_PURCHASE_REFUSED,
    MARKETPLACE_STRUGGLE_RECOMMENDED,
    MARKETPLACE_TIP_SUBMITTED,
)

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
FACTS = {"tip_id": "tip-1", "version": 1, "author_id": "zhang-san", "title": "报价三步法", "stage": "quoting",
         "product_line": "car-insurance", "tags": ["报价", "续保"], "price": 30}


def test_a_submitted_tip_round_trips() -> None:
    data = TipSubmitted(**FACTS, submitted_at=NOW)
    event = MARKETPLACE_TIP_SUBMITTED.event(data, source="/services/marketplace", tenantid="acme")
    parsed = MARKETPLACE_TIP_SUBMITTED.parse(event.to_json_bytes()).data
    assert parsed == data and parsed.stage is CallStage.QUOTING


@pytest.mark.parametrize("change", [{"price": 0}, {"version": 0}, {"stage": "smalltalk"}, {"tip_id": "a/b"},
                                    {"author_id": "张三"}, {"title": ""}, {"extra": 1}])
def test_tip_facts_are_strict(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TipListed(**(FACTS | change), listed_at=NOW)


def test_a_refusal_carries_the_daily_limit() -> None:
    data = PurchaseRefused(purchase_id="p-1", transfer_id="mkt-x-1", attempt=1, buyer_id="li-si",
                           seller_id="zhang-san", tip_id="tip-1", version=1, price=30,
                           reason=PurchaseRejection.DAILY_LIMIT, limit=DailyLimit.PAIR_COUNT, limit_value=3,
                           message="limit", refused_at=NOW)
    event = MARKETPLACE_PURCHASE_REFUSED.event(data, source="/services/marketplace", tenantid="acme")
    parsed = MARKETPLACE_PURCHASE_REFUSED.parse(event.to_json_bytes()).data
    assert (parsed.reason, parsed.limit, parsed.limit_value) == ("daily_limit", "pair_daily_count", 3)


def test_ratings_are_one_to_five() -> None:
    for stars in (0, 6):
        with pytest.raises(ValidationError):
            TipRated(user_id="li-si", tip_id="tip-1", version=1, author_id="zhang-san", stars=stars, rated_at=NOW)


def test_a_recommendation_round_trips() -> None:
    data = StruggleRecommended(recommendation_id="r-1", agent_id="li-si", step=FunnelStep.INTENT, agent_rate=0.1,
                               team_rate=0.3, gap=0.2, stage=CallStage.OBJECTION_HANDLING,
                               tips=[RecommendedTip(tip_id="tip-1", version=2, title="t", price=30, rating=4.5,
                                                    ratings=2)], recommended_at=NOW)
    event = MARKETPLACE_STRUGGLE_RECOMMENDED.event(data, source="/services/marketplace", tenantid="acme")
    assert MARKETPLACE_STRUGGLE_RECOMMENDED.parse(event.to_json_bytes()).data == data
    with pytest.raises(ValidationError):
        StruggleRecommended(**(data.model_dump() | {"agent_rate": 1.5}))
