"""The access log's record and the unmasking budget's verdict (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from bson import ObjectId

from telesales_runtime.access_log import (
    BUDGET_EXCEEDED,
    AccessRecord,
    Viewer,
    decode_cursor,
    encode_cursor,
    hour_of,
    log_filter,
    verdict,
)

AT = datetime(2026, 12, 7, 3, 59, 59, tzinfo=UTC)


def test_a_record_names_who_when_which_leads_through_which_route_and_why() -> None:
    viewer = Viewer(sub="a1", roles=("agent",), tenant="acme", team="t1")
    doc = AccessRecord(viewer=viewer, method="get", route="/v1/agents/{agent_id}/leads", lead_ids=("l1", "l2"),
                       reason="holder", at=AT).document()
    assert {k: v for k, v in doc.items() if k != "_id"} == {
        "tenant_id": "acme", "user": "a1", "roles": ["agent"], "team": "t1", "at": AT, "method": "GET",
        "route": "/v1/agents/{agent_id}/leads", "lead_ids": ["l1", "l2"], "reason": "holder"}
    assert isinstance(doc["_id"], ObjectId)


def test_the_budget_counts_in_utc_hours() -> None:
    assert hour_of(AT) == "2026-12-07T03"
    assert hour_of(AT + timedelta(seconds=1)) == "2026-12-07T04"
    assert hour_of(datetime(2026, 12, 7, 11, 30, tzinfo=timezone(timedelta(hours=8)))) == "2026-12-07T03"


@pytest.mark.parametrize(("used", "count", "allowed", "crossed"), [
    (1, 1, True, False), (3, 3, True, False), (4, 1, False, True), (5, 3, False, True), (6, 3, False, True),
    (7, 3, False, False), (5, 1, False, False)])
def test_past_the_budget_the_answer_is_masked_and_only_the_crossing_answer_says_so(
        used: int, count: int, allowed: bool, crossed: bool) -> None:
    result = verdict(used=used, count=count, budget=3, hour="h")
    assert (result.allowed, result.crossed) == (allowed, crossed)
    assert result.reason == (None if allowed else BUDGET_EXCEEDED)


def test_a_zero_budget_masks_everything() -> None:
    assert not verdict(used=1, count=1, budget=0, hour="h").allowed


def test_a_query_filters_by_user_lead_and_period_and_pages_newest_first() -> None:
    since, until = AT - timedelta(days=1), AT
    oid = ObjectId()
    query = log_filter("acme", user="a1", lead_id="l1", since=since, until=until, after=(AT, oid))
    assert query == {"tenant_id": "acme", "user": "a1", "lead_ids": "l1", "at": {"$gte": since, "$lt": until},
                     "$or": [{"at": {"$lt": AT}}, {"at": AT, "_id": {"$lt": oid}}]}
    assert log_filter("acme") == {"tenant_id": "acme"}
    assert decode_cursor(encode_cursor({"at": AT, "_id": oid})) == (AT, oid)
    with pytest.raises(ValueError):
        decode_cursor("not-a-cursor")
