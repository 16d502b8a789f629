"""A win counts when it is confirmed (domain/wins.py), and the buyer pool (进取池) takes only people who
bought for at least the tenant's threshold (domain.is_buyer, domain.purchases_in_attributes). Pure."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from allocator.domain import AllocationPolicy, DomainError, is_buyer, purchases_in_attributes
from allocator.domain.changes import ConfirmWin, RejectWin, Win
from allocator.domain.lead import HELD, POOLED, WON, Lead
from allocator.domain.wins import ORDER, SUPERVISOR, confirm_win, reject_win, win_state
from allocator.store.lead_writes import lead_of, write_of
from allocator.win_views import win_view
from telesales_contracts.topics import ALLOCATION_WIN_CONFIRMED, ALLOCATION_WIN_REJECTED, ALLOCATION_WON, LEADS_OUTCOME

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
WON_AT = NOW - timedelta(days=1)
POLICY = AllocationPolicy(buyer_min_purchase_fen=200_000)


def held() -> Lead:
    return Lead(lead_id="l1", tenant_id="t", status=HELD, business_line="edu", pool_id="edu", score=70,
                lead_grade="B", holder="a1", holder_team="t1", holder_grade="B", held_since=WON_AT - timedelta(days=1))


def declared(amount_fen: int = 500_000, **fields: object) -> Lead:
    won = {"won_by": "a1", "won_at": WON_AT, "won_amount_fen": amount_fen, "won_team": "t1", "win_confirmed": False}
    return replace(held(), status=WON, holder=None, won=won, **fields)  # type: ignore[arg-type]


def test_a_declared_win_is_unconfirmed_and_makes_nobody_a_buyer() -> None:
    decision = held().win("a1", amount_fen=900_000, at=NOW)
    # no confirmation event, and no outcome: lead-intake's scoring does not learn a win nobody confirmed
    assert [a.topic for a in decision.events] == [ALLOCATION_WON]
    _, update = write_of(held(), decision.change)
    assert isinstance(update, dict) and update["$set"]["win_confirmed"] is False
    assert "buyer" not in update["$set"] and "$inc" not in update
    assert win_state({"won_by": "a1", "win_confirmed": False}) == "unconfirmed"


def test_the_supervisor_confirms_once_and_never_its_own_win() -> None:
    decision = confirm_win(declared(), by=SUPERVISOR, confirmer="sup", policy=POLICY, at=NOW)
    assert decision is not None and isinstance(decision.change, ConfirmWin)
    event, outcome = decision.events
    assert event.topic is ALLOCATION_WIN_CONFIRMED
    assert (event.data.agent_id, event.data.amount_fen, event.data.confirmed_by, event.data.confirmer) == (
        "a1", 500_000, "supervisor", "sup")  # type: ignore[attr-defined]
    # confirmed now: lead-intake's scoring learns the win (an order's outcome it has from the outside system)
    assert outcome.topic is LEADS_OUTCOME
    assert (outcome.data.lead_id, outcome.data.outcome, outcome.data.amount_fen) == (  # type: ignore[attr-defined]
        "l1", "won", 500_000)
    query, update = write_of(declared(), decision.change)
    assert query == {"_id": "l1", "tenant_id": "t", "status": WON, "won_by": "a1", "win_confirmed": False}
    assert isinstance(update, dict) and update["$set"]["win_confirmed"] is True and update["$set"]["buyer"] is True
    assert update["$inc"] == {"purchases_fen": 500_000}
    with pytest.raises(DomainError) as own:
        confirm_win(declared(), by=SUPERVISOR, confirmer="a1", policy=POLICY, at=NOW)
    assert own.value.code == "own_win"
    confirmed = replace(declared(), won={**declared().won, "win_confirmed": True})  # type: ignore[dict-item]
    with pytest.raises(DomainError) as again:
        confirm_win(confirmed, by=SUPERVISOR, confirmer="sup", policy=POLICY, at=NOW)
    assert again.value.code == "already_confirmed"
    assert confirm_win(confirmed, by=ORDER, confirmer="crm", policy=POLICY, at=NOW) is None  # the same order again


def test_nothing_to_confirm_on_a_pooled_lead_nor_by_a_supervisor_on_a_held_one() -> None:
    for lead, by in ((replace(held(), status=POOLED, holder=None), ORDER), (held(), SUPERVISOR)):
        with pytest.raises(DomainError) as caught:
            confirm_win(lead, by=by, confirmer="x", policy=POLICY, at=NOW)  # type: ignore[arg-type]
        assert caught.value.code == "not_won"


def test_an_order_names_the_amount_and_its_reference() -> None:
    decision = confirm_win(declared(900_000), by=ORDER, confirmer="crm", policy=POLICY, at=NOW, order_ref="SO-7",
                           amount_fen=150_000)
    assert decision is not None and isinstance(decision.change, ConfirmWin)
    assert decision.change.amount_fen == 150_000 and decision.change.buyer is False  # a small purchase
    assert decision.events[0].data.declared_amount_fen == 900_000  # type: ignore[attr-defined]
    assert decision.events[0].data.order_ref == "SO-7"  # type: ignore[attr-defined]
    assert [a.topic for a in decision.events] == [ALLOCATION_WIN_CONFIRMED]  # the CRM said the outcome itself


def test_an_order_for_a_held_lead_wins_it_for_the_holder_confirmed_without_echoing_the_outcome() -> None:
    decision = confirm_win(held(), by=ORDER, confirmer="pay", policy=POLICY, at=NOW, order_ref="P-1",
                           amount_fen=300_000)
    assert decision is not None and isinstance(decision.change, Win)
    assert [a.topic for a in decision.events] == [ALLOCATION_WON, ALLOCATION_WIN_CONFIRMED]
    _, update = write_of(held(), decision.change)
    assert isinstance(update, dict)
    assert (update["$set"]["win_confirmed"], update["$set"]["buyer"], update["$inc"]) == (
        True, True, {"purchases_fen": 300_000})
    assert [e["kind"] for e in update["$push"]["history"]["$each"]] == ["won", "win_confirmed"]
    with pytest.raises(DomainError) as caught:
        confirm_win(held(), by=ORDER, confirmer="pay", policy=POLICY, at=NOW)
    assert caught.value.code == "amount_missing"


def test_purchases_add_up_to_the_buyer_threshold() -> None:
    lead = declared(80_000, purchases_fen=150_000)
    decision = confirm_win(lead, by=SUPERVISOR, confirmer="sup", policy=POLICY, at=NOW)
    assert decision is not None and decision.change.buyer is True  # type: ignore[union-attr]  # 1,500 + 800 yuan


def test_the_buyer_pool_takes_only_purchases_over_the_threshold() -> None:
    assert (is_buyer(199_999, POLICY), is_buyer(200_000, POLICY), is_buyer(0, POLICY)) == (False, True, False)
    assert is_buyer(1, AllocationPolicy(buyer_min_purchase_fen=0))  # 0: any purchase, as before
    assert purchases_in_attributes({"purchased_yuan": "3,500"}) == 350_000
    assert purchases_in_attributes({"purchases_fen": "120000"}) == 120_000
    assert purchases_in_attributes({"purchases_fen": "", "purchased_yuan": "20"}) == 2_000
    assert purchases_in_attributes({"buyer": "yes"}) == 0  # a bare flag names no amount
    assert purchases_in_attributes({"purchased_yuan": "lots"}) == 0
    assert purchases_in_attributes(None) == 0


def test_the_lead_page_shows_the_win_state() -> None:
    doc = {"_id": "l1", "tenant_id": "t", "status": WON, "won_by": "a1", "won_at": WON_AT, "won_amount_fen": 9,
           "win_confirmed": False}
    view = win_view(doc)
    assert view is not None and (view.state, view.confirmed_by) == ("unconfirmed", None)
    confirmed = win_view({**doc, "win_confirmed": True, "win_confirmation": {"by": "order", "confirmer": "crm",
                                                                             "order_ref": "SO-1", "at": NOW}})
    assert confirmed is not None and (confirmed.state, confirmed.order_ref) == ("confirmed", "SO-1")
    assert win_view({"_id": "l2", "status": HELD}) is None
    assert lead_of(doc).won == {"won_by": "a1", "won_at": WON_AT, "won_amount_fen": 9, "win_confirmed": False}


def test_a_rejected_win_puts_the_lead_back_in_its_winners_hands_as_before_the_declaration() -> None:
    before = replace(held(), dedicated_agent="old", stage_percent=60, funnel_step="plan")
    declaration = before.win("a1", amount_fen=500_000, at=WON_AT)
    _, update = write_of(before, declaration.change)
    stored = {"_id": "l1", "tenant_id": "t", "status": WON, "business_line": "edu", "pool_id": "edu",
              **{k: v for k, v in update["$set"].items() if k.startswith("win") or k.startswith("won")}}  # type: ignore[call-overload]
    lead = lead_of(stored)
    decision = reject_win(lead, by=SUPERVISOR, rejecter="sup", reason="no payment seen", at=NOW)
    assert decision is not None and isinstance(decision.change, RejectWin)
    [event] = decision.events
    assert event.topic is ALLOCATION_WIN_REJECTED
    data = event.data
    assert (data.agent_id, data.team_id, data.declared_amount_fen, data.rejected_by, data.rejecter,  # type: ignore[attr-defined]
            data.reason) == ("a1", "t1", 500_000, "supervisor", "sup", "no payment seen")  # type: ignore[attr-defined]
    query, change = write_of(lead, decision.change)
    # only that very declaration, still unconfirmed, is rejected: a race with a confirmation loses one of them
    assert query == {"_id": "l1", "tenant_id": "t", "status": WON, "won_by": "a1", "won_at": WON_AT,
                     "win_confirmed": False}
    assert isinstance(change, dict)
    fields = change["$set"]
    assert (fields["status"], fields["holder"], fields["holder_team"]) == (HELD, "a1", "t1")
    # the reclaim clocks start again now; what the declaration changed is put back
    assert fields["held_since"] == NOW and fields["progress_at"] == NOW and fields["dial_days"] == []
    assert (fields["dedicated_agent"], fields["stage_percent"], fields["funnel_step"]) == ("old", 60, "plan")
    assert {"won_by", "win_confirmed", "won_amount_fen"} <= set(change["$unset"])
    assert "$inc" not in change  # nothing was bought
    assert [e["kind"] for e in change["$push"]["history"]["$each"]] == ["win_rejected"]
    view = win_view({"status": HELD, "win_rejection": fields["win_rejection"]})
    assert view is not None and (view.state, view.won_by, view.rejected_by, view.reason) == (
        "rejected", "a1", "supervisor", "no payment seen")


def test_a_win_is_rejected_only_while_unconfirmed_and_never_by_its_winner() -> None:
    with pytest.raises(DomainError) as own:
        reject_win(declared(), by=SUPERVISOR, rejecter="a1", reason="mine", at=NOW)
    assert own.value.code == "own_win"
    confirmed = replace(declared(), won={**declared().won, "win_confirmed": True})  # type: ignore[dict-item]
    with pytest.raises(DomainError) as late:
        reject_win(confirmed, by=SUPERVISOR, rejecter="sup", reason="too late", at=NOW)
    assert late.value.code == "already_confirmed"
    # the CRM's lost outcome about a confirmed win changes nothing (the service records it as such)
    assert reject_win(confirmed, by=ORDER, rejecter="crm", reason="lost", at=NOW) is None
    for lead in (held(), replace(held(), status=POOLED, holder=None)):
        with pytest.raises(DomainError) as none:
            reject_win(lead, by=ORDER, rejecter="crm", reason="lost", at=NOW)
        assert none.value.code == "not_won"
    by_order = reject_win(declared(), by=ORDER, rejecter="crm", reason="crm says lost", at=NOW, order_ref="SO-9")
    assert by_order is not None and by_order.events[0].data.rejected_by == "order"  # type: ignore[attr-defined]
    assert by_order.events[0].data.order_ref == "SO-9"  # type: ignore[attr-defined]
    # a win declared before rejection existed has nothing to put back: only the hold comes back
    assert by_order.change.restore == {}  # type: ignore[union-attr]
