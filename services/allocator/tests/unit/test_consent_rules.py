"""A withdrawn telemarketing consent at the allocator (Lead.stop_for_good, as service/consent.py asks it), and the
stored document of a lead qualified with telemarketing withdrawn, decided without I/O."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from allocator.domain.changes import StopCalls
from allocator.domain.lead import CLOSED, DO_NOT_CALL, HELD, POOLED, WON, Lead
from allocator.service.consent import WITHDRAWN
from allocator.store.lead_writes import new_lead_document
from telesales_contracts.allocation import LeadClosed
from telesales_contracts.leads import LeadQualified

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def lead(status: str = HELD, holder: str | None = "a1") -> Lead:
    base = Lead(lead_id="l1", tenant_id="t", status=HELD, business_line="education", pool_id="education", score=70,
                lead_grade="B", holder="a1", holder_team="t1", holder_grade="B", held_since=NOW - timedelta(days=1))
    return replace(base, status=status, holder=holder)


def test_a_withdrawal_closes_a_held_lead_for_good_telling_its_holder_once() -> None:
    decision = lead().stop_for_good(WITHDRAWN, kind="consent", ref="e-9", at=NOW)
    assert decision is not None and isinstance(decision.change, StopCalls)
    [event] = decision.events
    assert isinstance(event.data, LeadClosed) and event.data.do_not_call and event.data.reason == WITHDRAWN
    again = lead().stop_for_good(WITHDRAWN, kind="consent", ref="e-9", at=NOW + timedelta(seconds=3))
    assert again is not None and again.events[0].event_id == event.event_id
    listed = lead().stop_for_good(WITHDRAWN, kind="dnc", ref="e-9", at=NOW)
    assert listed is not None and listed.events[0].event_id != event.event_id  # another cause, another event


def test_pooled_and_closed_leads_close_silently_won_and_already_stopped_ones_stay() -> None:
    for status in (POOLED, CLOSED):
        decision = lead(status, None).stop_for_good(WITHDRAWN, kind="consent", ref="e-1", at=NOW)
        assert decision is not None and decision.events == ()
    for status in (WON, DO_NOT_CALL):
        assert lead(status, None).stop_for_good(WITHDRAWN, kind="consent", ref="e-1", at=NOW) is None


def qualified(consent: list[dict[str, object]]) -> LeadQualified:
    return LeadQualified.model_validate({
        "lead_id": "l2", "phone_e164": "+8613924681357", "email": None, "name": "张伟", "company": None,
        "channel": "im", "channel_raw": None, "business_line": "education", "product_interest": None,
        "region": None, "carrier": None, "number_type": None, "number_check": None, "score": 50, "grade": "C",
        "score_breakdown": [], "touch": {"event_id": "e", "source": "/s", "channel": "im", "received_at": NOW},
        "consent": consent})


def test_a_lead_qualified_with_telemarketing_withdrawn_is_stored_closed_and_keeps_its_consent() -> None:
    no = {"scope": "telemarketing", "granted": False, "given_at": NOW, "statement": "no calls"}
    doc = new_lead_document("t", qualified([no]), pool_id="education", buyer=False, now=NOW)
    assert doc["status"] == DO_NOT_CALL and doc["consent"][0]["granted"] is False
    sms = {"scope": "sms", "granted": True, "given_at": NOW, "statement": "texts ok"}
    doc = new_lead_document("t", qualified([sms]), pool_id="education", buyer=False, now=NOW)
    assert doc["status"] == POOLED and doc["consent"][0]["scope"] == "sms"
