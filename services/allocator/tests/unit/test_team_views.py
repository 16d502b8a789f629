"""How the team view reads leads (pure): a waiting request lapses at its lead's reclaim deadline, an approved
mark at its expiry, the customer is masked; a missed push shows only while the lead is pooled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from allocator.domain import AllocationPolicy, ReclaimRule
from allocator.push_missed import push_missed_view
from allocator.team_views import mark_row

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = AllocationPolicy(reclaim_rules=[ReclaimRule(not_processed_days=3, not_converted_days=10)])


def marked(status: str, **mark: Any) -> dict[str, Any]:
    return {"_id": "L1", "name": "张伟", "phone_e164": "+8613924681357", "status": "held", "holder": "a1",
            "pool_id": "education", "held_since": NOW, "progress_at": NOW, "awaiting_first_call": True,
            "deal_mark": {"request_id": "R1", "status": status, "agent_id": "a1", "requested_at": NOW,
                          "note": "签约中", **mark}}


def test_a_waiting_request_lapses_at_the_reclaim_deadline_and_the_customer_is_masked() -> None:
    row = mark_row(marked("pending"), "requested", POLICY)
    assert (row.customer, row.phone, row.agent_id, row.reason) == ("张**", "+86139****1357", "a1", "签约中")
    assert row.expires_at == NOW + timedelta(days=3)
    called = {**marked("pending"), "awaiting_first_call": False}
    assert mark_row(called, "requested", POLICY).expires_at == NOW + timedelta(days=10)


def test_an_approved_mark_expires_when_it_stops_protecting() -> None:
    until = NOW + timedelta(days=20)
    assert mark_row(marked("approved", expires_at=until), "approved", POLICY).expires_at == until


def test_a_missed_push_shows_while_the_lead_waits_in_its_pool_only() -> None:
    doc = {"status": "pooled", "push_missed": {"reason": "resting (contact pressure)", "at": NOW}}
    view = push_missed_view(doc)
    assert view is not None and (view.code, view.reason, view.at) == ("resting", "resting (contact pressure)", NOW)
    assert push_missed_view({**doc, "status": "held"}) is None
    assert push_missed_view({"status": "pooled", "push_missed": None}) is None
    assert push_missed_view({"status": "pooled"}) is None
