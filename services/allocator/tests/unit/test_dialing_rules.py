"""Who may dial a lead (Lead.may_dial) and what the do-not-call list does to a lead (Lead.number_listed),
decided without I/O, and the conditional write a listing compiles into."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from allocator.domain.changes import StopCalls
from allocator.domain.lead import CLOSED, DO_NOT_CALL, HELD, POOLED, WON, Lead
from allocator.store.lead_writes import write_of
from telesales_contracts.allocation import LeadClosed
from telesales_contracts.topics import ALLOCATION_CLOSED

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=2)


def held_lead(**fields: object) -> Lead:
    base = Lead(lead_id="l1", tenant_id="t", status=HELD, business_line="education", pool_id="education", score=70,
                lead_grade="B", holder="a1", holder_team="t1", holder_grade="B", held_since=SINCE,
                phone_e164="+8613924681357")
    return replace(base, **fields)  # type: ignore[arg-type]


def pooled_lead(**fields: object) -> Lead:
    return held_lead(**{"status": POOLED, "holder": None, "holder_team": None, "holder_grade": None,
                        "held_since": None, **fields})


# ---- may_dial ---------------------------------------------------------------------------------------------


def test_the_holder_may_dial_a_lead_that_does_not_rest() -> None:
    verdict = held_lead(rest_until=NOW - timedelta(seconds=1)).may_dial("a1", now=NOW, number_listed=False)
    assert (verdict.allowed, verdict.reason, verdict.rest_until) == (True, None, None)


def test_a_resting_lead_binds_its_holder_too_and_says_until_when() -> None:
    until = NOW + timedelta(days=3)
    verdict = held_lead(rest_until=until).may_dial("a1", now=NOW, number_listed=False)
    assert (verdict.allowed, verdict.reason, verdict.rest_until) == (False, "resting", until)
    assert until.isoformat() in (verdict.detail or "")


@pytest.mark.parametrize(("lead", "reason"), [
    (held_lead(holder="a2"), "not_the_holder"),
    (pooled_lead(), "not_held"),
    (pooled_lead(status=CLOSED), "closed"),
    (pooled_lead(status=WON), "won"),
    (pooled_lead(status=DO_NOT_CALL), "do_not_call"),
])
def test_only_a_lead_one_holds_may_be_dialled(lead: Lead, reason: str) -> None:
    verdict = lead.may_dial("a1", now=NOW, number_listed=False)
    assert (verdict.allowed, verdict.reason) == (False, reason)
    assert "a2" not in (verdict.detail or "")  # who else holds it is not told


def test_a_listed_number_is_refused_through_any_lead_and_before_any_other_reason() -> None:
    for lead in (held_lead(), held_lead(rest_until=NOW + timedelta(days=1)), pooled_lead(status=WON)):
        verdict = lead.may_dial("a1", now=NOW, number_listed=True)
        assert (verdict.allowed, verdict.reason) == (False, "do_not_call")


# ---- number_listed ------------------------------------------------------------------------------------------


def test_a_listed_number_closes_a_held_lead_for_good_and_tells_its_holder() -> None:
    decision = held_lead().number_listed("rude", listing_id="e-1", at=NOW)
    assert decision is not None
    change = decision.change
    assert isinstance(change, StopCalls) and change.last_holder == "a1" and change.still == (HELD, "a1")
    [event] = decision.events
    assert event.topic is ALLOCATION_CLOSED and isinstance(event.data, LeadClosed)
    assert (event.data.agent_id, event.data.do_not_call, event.data.reason) == ("a1", True, "do-not-call: rude")
    again = held_lead().number_listed("rude", listing_id="e-1", at=NOW + timedelta(seconds=5))
    assert again is not None and again.events[0].event_id == event.event_id  # judged twice, announced once
    query, update = write_of(held_lead(), change)
    assert query == {"_id": "l1", "tenant_id": "t", "status": HELD, "holder": "a1"}  # only if still so held
    assert isinstance(update, dict) and update["$set"]["status"] == DO_NOT_CALL


def test_a_listed_number_closes_pooled_and_closed_leads_silently() -> None:
    for lead in (pooled_lead(), pooled_lead(status=CLOSED, last_holder="a0")):
        decision = lead.number_listed("by operator", listing_id="e-2", at=NOW)
        assert decision is not None and decision.events == ()
        assert isinstance(decision.change, StopCalls) and decision.change.still == (lead.status, None)
    closed = pooled_lead(status=CLOSED, last_holder="a0").number_listed("x", listing_id="e-3", at=NOW)
    assert closed is not None and closed.change.last_holder == "a0"  # type: ignore[union-attr]


def test_a_won_lead_keeps_its_sale_and_one_already_off_the_lists_is_left_alone() -> None:
    assert pooled_lead(status=WON).number_listed("x", listing_id="e-4", at=NOW) is None
    assert pooled_lead(status=DO_NOT_CALL).number_listed("x", listing_id="e-4", at=NOW) is None


def test_a_complaint_tells_the_holder_it_was_closed_for_do_not_call() -> None:
    [event] = held_lead().complaint("stop calling", at=NOW).events
    assert isinstance(event.data, LeadClosed) and event.data.do_not_call is True
