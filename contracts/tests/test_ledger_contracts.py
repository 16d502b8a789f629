"""Tests of the ledger's contracts: the purchase request the marketplace sends, and the answers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from telesales_contracts.ledger import (
    DailyLimit,
    PurchaseRejection,
    TransferPosted,
    TransferRejected,
    TransferRequested,
)
from telesales_contracts.topics import LEDGER_TRANSFER_POSTED, LEDGER_TRANSFER_REJECTED, LEDGER_TRANSFER_REQUESTED

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
REQUEST = {"transfer_id": "order-1", "buyer_id": "li-si", "seller_id": "zhang-san", "tip_id": "tip-报价", "price": 120}


def test_a_purchase_request_round_trips() -> None:
    event = LEDGER_TRANSFER_REQUESTED.event(TransferRequested(**REQUEST), source="/marketplace", tenantid="acme")
    assert LEDGER_TRANSFER_REQUESTED.parse(event.to_json_bytes()).data == TransferRequested(**REQUEST)


@pytest.mark.parametrize("change", [{"price": 0}, {"price": 1_000_001}, {"transfer_id": "a/b"},
                                    {"transfer_id": "a|b"}, {"transfer_id": ""}, {"buyer_id": "李四"},
                                    {"tip_id": ""}, {"extra": 1}])
def test_a_purchase_request_is_strict(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        TransferRequested(**(REQUEST | change))


def test_the_answers_round_trip() -> None:
    posted = TransferPosted(**REQUEST, request_event_id="e-1", seller_amount=100, platform_amount=20,
                            buyer_balance=80, day="2026-11-24", posted_at=NOW)
    event = LEDGER_TRANSFER_POSTED.event(posted, source="/services/ledger", tenantid="acme")
    assert LEDGER_TRANSFER_POSTED.parse(event.to_json_bytes()).data == posted
    assert posted.repeat is False
    rejected = TransferRejected(**REQUEST, request_event_id="e-2", reason=PurchaseRejection.DAILY_LIMIT,
                                limit=DailyLimit.PAIR_COUNT, limit_value=3, message="daily limit", rejected_at=NOW)
    event = LEDGER_TRANSFER_REJECTED.event(rejected, source="/services/ledger", tenantid="acme")
    parsed = LEDGER_TRANSFER_REJECTED.parse(event.to_json_bytes()).data
    assert (parsed.reason, parsed.limit, parsed.limit_value) == ("daily_limit", "pair_daily_count", 3)
    with pytest.raises(ValidationError):
        TransferPosted(**REQUEST, request_event_id="e-1", seller_amount=100, platform_amount=20, buyer_balance=-1,
                       day="2026-11-24", posted_at=NOW)
