"""Unit tests of the intake's Lead (lead_intake.domain.lead) and the batch its decisions make (changes.py): what
can happen to a lead in lead-intake, as typed changes and the events they cause. No I/O."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from lead_intake.crypt import LeadSealing
from lead_intake.domain import (
    AppendTouch,
    Arrival,
    Batch,
    IntakeLead,
    Listing,
    NewLead,
    PutOnDoNotCall,
    RecordOutcome,
    ReplaceTouch,
    ScoringWeights,
    complaint,
    do_not_call_changed,
    junk_reasons,
    reject,
    score_lead,
    standardize,
    touch,
)
from lead_intake.domain import lead as lead_rules
from telesales_contracts.activity import DoNotCallChanged, DoNotCallSource, LeadComplaint
from telesales_contracts.leads import LeadOutcome, LeadReceived, RejectionReason
from telesales_contracts.topics import LEADS_DO_NOT_CALL, LEADS_MERGED, LEADS_QUALIFIED, LEADS_REJECTED
from telesales_runtime.pii_crypto import load_keyring

T = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
CRM = "/crm/x"


def arrival(event_id: str = "e-1", **data: Any) -> Arrival:
    clean = standardize(LeadReceived.model_validate({"phone": "13924681357", "business_line": "education", **data}),
                        "CN")
    return Arrival(event_id, T, clean, touch(event_id=event_id, event_source=CRM, event_type="leads.received.v1",
                                             received_at=T, clean=clean))


def qualified(item: Arrival, lead_id: str = "L-1") -> tuple[IntakeLead, Any]:
    score = score_lead(item.clean, ScoringWeights())
    return IntakeLead.qualify(item, lead_id=lead_id, score=score, check=None, at=T)


def test_junk_is_rejected_with_its_reasons_and_stores_nothing() -> None:
    item = arrival(phone="13800138000")
    reasons = junk_reasons(item.clean, on_do_not_call=False, check=None)
    decision = reject(item, reasons)
    assert decision.change is None and decision.outcome == "rejected"
    assert decision.answer == {"status": "rejected", "reasons": [
        {"code": RejectionReason.TEST_NUMBER.value, "message": "+8613800138000 is a test number"}],
        # whose arrival it was: the store keeps blind indexes of these only, for an erasure to find it
        "person": {"phone_e164": "+8613800138000", "email": None}}
    announced = decision.announcement
    assert announced is not None and announced.topic is LEADS_REJECTED
    assert (announced.subject, announced.key) == ("e-1", "e-1")  # never keyed by the number


def test_a_new_lead_is_stored_with_its_touch_and_score_and_announced_as_qualified() -> None:
    item = arrival(crm_id="4711")
    lead, decision = qualified(item)
    new = decision.change
    assert isinstance(new, NewLead) and new.lead_id == "L-1" and new.touches_count == 1
    assert new.touches == [item.touch] and new.refs == [{"source_system": CRM, "external_id": "4711"}]
    assert new.fields["phone_e164"] == "+8613924681357" and "lead_id" not in new.fields
    assert decision.answer == {"status": "qualified", "lead_id": "L-1"}
    announced = decision.announcement
    assert announced is not None and announced.topic is LEADS_QUALIFIED and announced.key == "L-1"
    data = LEADS_QUALIFIED.data_model.model_validate(announced.data)  # the trusted data is the contract's
    assert data.lead_id == "L-1" and data.score == new.fields["score"] and data.touch.event_id == "e-1"
    assert (lead.phone_e164, lead.email, lead.refs) == ("+8613924681357", None, new.refs)


def test_a_repeat_adds_a_touch_and_the_new_reference_and_counts_it() -> None:
    lead = IntakeLead("L-1", touches_count=2, refs=[{"source_system": "/crm/a", "external_id": "A"}])
    item = arrival("e-2", crm_id="B")
    decision = lead.repeat(item, "phone")
    assert decision.change == AppendTouch("L-1", item.touch, {"source_system": CRM, "external_id": "B"})
    assert lead.touches_count == 3 and [r["external_id"] for r in lead.refs] == ["A", "B"]
    assert decision.answer == {"status": "merged", "lead_id": "L-1", "matched_on": "phone"}
    announced = decision.announcement
    assert announced is not None and announced.topic is LEADS_MERGED
    assert announced.data.touches == 3 and len(announced.data.external_refs) == 2  # type: ignore[union-attr]


def test_a_lead_takes_no_reference_beyond_the_bound_but_still_the_touch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lead_rules, "MAX_EXTERNAL_REFS", 1)
    lead = IntakeLead("L-1", refs=[{"source_system": "/crm/a", "external_id": "A"}])
    decision = lead.repeat(arrival("e-2", crm_id="B"), "phone")
    assert isinstance(decision.change, AppendTouch) and decision.change.ref is None
    assert lead.touches_count == 2 and len(lead.refs) == 1


def test_the_same_outside_record_again_replaces_its_touch_and_adds_none() -> None:
    ref = {"source_system": CRM, "external_id": "4711"}
    lead = IntakeLead("L-1", touches_count=4, refs=[ref])
    item = arrival("e-9", crm_id="4711", phone="18604312468")
    decision = lead.same_record_again(item, ref)
    assert decision.change == ReplaceTouch("L-1", ref, item.touch)
    assert lead.touches_count == 4 and decision.answer["matched_on"] == "external_ref"


def test_repeats_of_a_lead_new_in_the_batch_are_written_with_it() -> None:
    batch = Batch()
    first = arrival("e-1", crm_id="R-0")
    lead, decision = qualified(first)
    batch.add(decision)
    batch.add(lead.repeat(arrival("e-2", crm_id="R-1"), "phone"))
    again = arrival("e-3", crm_id="R-0", channel="微信")
    batch.add(lead.same_record_again(again, {"source_system": CRM, "external_id": "R-0"}))
    assert batch.appends == [] and batch.replacements == []
    [new] = batch.new_leads.values()
    assert new.touches_count == 2 and [t["event_id"] for t in new.touches] == ["e-3", "e-2"]
    assert [r["external_id"] for r in new.refs] == ["R-0", "R-1"]
    assert [event_id for event_id, _ in batch.answers] == ["e-1", "e-2", "e-3"]
    assert dict(batch.outcomes) == {"qualified": 1, "merged": 2} and len(batch.announcements) == 3


def test_repeats_of_a_stored_lead_become_conditional_writes() -> None:
    batch = Batch()
    lead = IntakeLead("L-1")
    batch.add(lead.repeat(arrival("e-2"), "phone"))
    assert [a.lead_id for a in batch.appends] == ["L-1"] and batch.new_leads == {}


def test_an_outcome_is_recorded_and_counted_into_the_model_of_its_business_line() -> None:
    lead = IntakeLead("L-1", business_line="education", model_features={"channel": "im", "logins": "0-1"})
    ref = {"source_system": CRM, "external_id": "4711"}
    outcome = LeadOutcome.model_validate({"external_id": "4711", "outcome": "won", "amount_fen": 990, "note": "x"})
    decision = lead.record_outcome(outcome, event_id="o-1", decided_at=T, source=CRM, ref=ref)
    change = decision.change
    assert isinstance(change, RecordOutcome) and change.business_line == "education"
    assert change.increments == {"won": 1, "features.channel:im.won": 1, "features.logins:0-1.won": 1}
    features = {"channel": "im", "logins": "0-1"}
    assert change.outcome == {"outcome": "won", "amount_fen": 990, "event_id": "o-1", "decided_at": T,
                              "source": CRM, **ref, "extra": {"note": "x"},
                              "counted": {"outcome": "won", "business_line": "education", "features": features}}
    assert decision.answer == {"status": "outcome_recorded", "lead_id": "L-1", **ref, "learned": "new"}
    other_line = lead.record_outcome(LeadOutcome(lead_id="L-1", outcome="lost", business_line="loans"),
                                     event_id="o-2", decided_at=T, source=CRM, ref=None)
    assert other_line.change.business_line == "loans"  # type: ignore[union-attr]


def test_a_lead_counts_once_in_the_model_with_its_latest_outcome() -> None:
    """The allocator says a win its supervisor confirmed, the CRM says its own order: the model learns the win
    once; the CRM then says the sale was lost: the win's counts are taken back and the loss counted."""
    features = {"channel": "im"}
    lead = IntakeLead("L-1", business_line="education", model_features=features)
    won = LeadOutcome(lead_id="L-1", outcome="won", amount_fen=500)
    first = lead.record_outcome(won, event_id="o-1", decided_at=T, source="/allocator", ref=None)
    assert first.change.increments == {"won": 1, "features.channel:im.won": 1}  # type: ignore[union-attr]
    lead.outcome = first.change.outcome  # type: ignore[union-attr]
    again = lead.record_outcome(won, event_id="o-2", decided_at=T, source=CRM, ref=None)
    assert isinstance(again.change, RecordOutcome) and (again.change.increments, again.change.undo) == ({}, None)
    assert again.answer["learned"] == "already" and again.change.outcome["event_id"] == "o-2"
    lead.outcome = again.change.outcome
    lost = lead.record_outcome(LeadOutcome(lead_id="L-1", outcome="lost"), event_id="o-3", decided_at=T, source=CRM,
                               ref=None)
    assert isinstance(lost.change, RecordOutcome)
    assert lost.change.increments == {"lost": 1, "features.channel:im.lost": 1}
    assert lost.change.undo == ("education", {"won": -1, "features.channel:im.won": -1})
    assert lost.answer["learned"] == "changed"
    # an outcome recorded before leads counted once (no `counted`): taken back with the lead's own features
    legacy = IntakeLead("L-2", business_line="education", model_features=features, outcome={"outcome": "lost"})
    flipped = legacy.record_outcome(won, event_id="o-4", decided_at=T, source=CRM, ref=None)
    assert flipped.change.undo == ("education", {"lost": -1, "features.channel:im.lost": -1})  # type: ignore[union-attr]


def index(phone: str) -> str:
    """A stand-in for the keyed blind index (the domain is given the function): 22 base64url characters."""
    return base64.urlsafe_b64encode(hashlib.sha256(phone.encode()).digest()[:16]).decode().rstrip("=")


def test_a_complaint_puts_its_lead_s_number_on_the_do_not_call_list() -> None:
    decision = complaint(LeadComplaint(lead_id="L-1", reason="rude, call 139 2468 1357 again and I sue"), tenant="t1",
                         event_id="c-1", lead_phone="+8613924681357", default_region="CN", index=index, at=T)
    listing = Listing(index("+8613924681357"), "+86139****1357", "complaint: rude, call 139****1357 again and I sue")
    assert decision.change == PutOnDoNotCall(listing)
    # the inbox keeps the answer: the number masked (the person may be erased later, the answer stays)
    assert decision.answer == {"status": "do_not_call", "lead_id": "L-1", "phone_masked": "+86139****1357"}
    # and tells the allocator, keyed by tenant and blind index, so it closes every lead with it
    announced = decision.announcement
    assert announced is not None and announced.topic is LEADS_DO_NOT_CALL
    assert announced.key == f"t1/{index('+8613924681357')}" and announced.subject == index("+8613924681357")
    assert announced.data == DoNotCallChanged(phone_bidx=index("+8613924681357"), phone_masked="+86139****1357",
                                              listed=True, source=DoNotCallSource.COMPLAINT,
                                              reason="complaint: rude, call 139****1357 again and I sue",
                                              lead_id="L-1", changed_at=T)


def test_a_do_not_call_event_carries_no_number_in_any_written_form() -> None:
    reason = "complaint: 客户 +86 139-2468-1357 / 8613924681357 / 13924681357 说别打了"
    decision = complaint(LeadComplaint(lead_id="L-1", reason=reason[11:]), tenant="t1", event_id="c-1",
                         lead_phone="+8613924681357", default_region="CN", index=index, at=T)
    announced = decision.announcement
    assert announced is not None and isinstance(announced.data, BaseModel)
    written = " ".join([announced.key, announced.subject, announced.data.model_dump_json(),
                        json.dumps(decision.answer, ensure_ascii=False), str(decision.change)])
    assert "13924681357" not in written.replace(" ", "").replace("-", ""), written
    assert "2468" not in written, written  # the hidden middle digits, in no form
    assert announced.data.reason == "complaint: 客户 +86139****1357 / +86139****1357 / 139****1357 说别打了"


def test_an_operator_s_change_of_the_list_is_announced_by_tenant_and_blind_index() -> None:
    listing = Listing.of("+8613924681357", index("+8613924681357"), "asked on the phone")
    off = do_not_call_changed("t1", listing, listed=False, source=DoNotCallSource.OPERATOR, at=T)
    assert off.subject == index("+8613924681357")
    # the compacted topic keeps the last change per key: another tenant's change of the number must not erase it
    other = do_not_call_changed("t2", listing, listed=True, source=DoNotCallSource.OPERATOR, at=T)
    assert (off.key, other.key) == (f"t1/{index('+8613924681357')}", f"t2/{index('+8613924681357')}")
    assert isinstance(off.data, DoNotCallChanged) and off.data.listed is False and off.data.lead_id is None
    assert off.data.reason is None and off.data.phone_e164 is None


def test_a_complaint_naming_a_number_puts_that_one_on_the_list() -> None:
    named = LeadComplaint(lead_id="L-1", reason="rude", phone_e164="+8618604312468")
    decision = complaint(named, tenant="t1", event_id="c-1", lead_phone="+8613924681357", default_region="CN",
                         index=index, at=T)
    assert decision.change == PutOnDoNotCall(Listing(index("+8618604312468"), "+86186****2468", "complaint: rude"))
    with pytest.raises(ValueError):
        complaint(LeadComplaint(lead_id="L-1", reason="rude"), tenant="t1", event_id="c-2", lead_phone=None,
                  default_region="CN", index=index, at=T)


def test_the_contract_names_a_number_by_blind_index_and_reads_old_records() -> None:
    with pytest.raises(ValueError):  # names no number
        DoNotCallChanged.model_validate({"listed": True, "source": "operator", "changed_at": T.isoformat()})
    with pytest.raises(ValueError):  # a number is not a blind index
        DoNotCallChanged.model_validate({"phone_bidx": "+8613924681357", "listed": True, "source": "operator",
                                         "changed_at": T.isoformat()})
    old = DoNotCallChanged.model_validate({"phone_e164": "+8613924681357", "listed": True, "source": "operator",
                                           "changed_at": T.isoformat()})  # published before: still read
    assert old.phone_e164 == "+8613924681357" and old.phone_bidx is None


def test_a_rejection_answer_keeps_the_person_only_as_blind_indexes() -> None:
    key = lambda: base64.b64encode(os.urandom(32)).decode()  # noqa: E731
    inline = json.dumps({"active": "k1", "keys": {"k1": key()}, "index_key": key()})
    sealing = LeadSealing(load_keyring(inline=inline, path=None))
    item = arrival(phone="13800138000", email="Someone@Example.com")
    stored = sealing.answer("t1", reject(item, junk_reasons(item.clean, on_do_not_call=False, check=None)).answer)
    text = json.dumps(stored)
    assert "13800138000" not in text and "example.com" not in text.lower() and "person" not in stored
    assert stored["phone_e164_bidx"] == sealing.leads.index("t1", "phone_e164", "+8613800138000")
    found = sealing.answer_clauses("t1", ["+8613800138000"], [])
    assert found == [{"outcome.phone_e164_bidx": {"$in": [stored["phone_e164_bidx"]]}}]
    assert sealing.open_answer("t1", stored)["reasons"][0]["message"] == "+8613800138000 is a test number"
