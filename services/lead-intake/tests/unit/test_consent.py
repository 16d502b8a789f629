"""Unit tests of a lead's consent in lead-intake (domain/consent.py, and how the Lead and the Planner use it):
the latest statement per scope wins, a statement from the future is not believed, a tenant that requires
telemarketing consent never lets a lead without it into the pools, a withdrawal is announced. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lead_intake import domain
from lead_intake.domain import AppendTouch, Arrival, ConsentPolicy, IntakeLead, ScoringWeights, score_lead, standardize
from lead_intake.received import Planner
from telesales_contracts.consent import LeadConsentChanged
from telesales_contracts.leads import LeadQualified, LeadReceived, RejectionReason
from telesales_contracts.topics import LEADS_CONSENT_CHANGED, LEADS_QUALIFIED, LEADS_REJECTED

T = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)
REQUIRED = ConsentPolicy(require_telemarketing_consent=True)


def consent(scopes: Any = "telemarketing", at: datetime = T - timedelta(days=1), granted: bool = True) -> dict[str, Any]:
    return {"statement": "I agree to be contacted about courses", "given_at": at.isoformat(), "scopes": scopes,
            "granted": granted, "evidence": "form-42"}


def arrival(event_id: str = "e-1", received_at: datetime = T, **data: Any) -> Arrival:
    clean = standardize(LeadReceived.model_validate({"phone": "13924681357", **data}), "CN")
    sent = domain.touch(event_id=event_id, event_source="/crm/x", event_type="leads.received.v1",
                        received_at=received_at, clean=clean)
    statement = domain.consent_statement(clean.consent, received_at=received_at, source="/crm/x", event_id=event_id)
    return Arrival(event_id, received_at, clean, sent, statement)


def plan(policy: ConsentPolicy, *items: Arrival, known: list[IntakeLead] | None = None) -> domain.Batch:
    planner = Planner(policy)
    planner.know(known or [])
    for item in items:
        planner.place(item, lambda c=item.clean: score_lead(c, ScoringWeights()), None)
    return planner.batch


def test_a_lead_without_telemarketing_consent_never_qualifies_where_the_tenant_requires_it() -> None:
    for data in ({}, {"consent": consent("sms")}, {"consent": consent(["email", "sms"])}):
        batch = plan(REQUIRED, arrival(**data))
        assert not batch.new_leads and batch.outcomes == {"rejected": 1}
        [event] = batch.announcements
        assert event.topic is LEADS_REJECTED
        assert [r.code for r in event.data.reasons] == [RejectionReason.NO_CONSENT]  # type: ignore[union-attr]


def test_with_telemarketing_consent_it_qualifies_and_carries_the_consent() -> None:
    batch = plan(REQUIRED, arrival(consent=consent(["Phone call", "sms"])))
    [new] = batch.new_leads.values()
    assert [c["scope"] for c in new.fields["consent"]] == ["telemarketing", "sms"]
    [event] = batch.announcements
    assert event.topic is LEADS_QUALIFIED
    data = LeadQualified.model_validate(event.data)
    assert data.consent[0].granted and data.consent[0].evidence == "form-42" and data.consent[0].source == "/crm/x"


def test_a_tenant_without_the_requirement_takes_leads_without_consent_but_never_a_withdrawn_one() -> None:
    assert plan(ConsentPolicy(), arrival()).outcomes == {"qualified": 1}
    batch = plan(ConsentPolicy(), arrival(consent=consent(granted=False)))
    assert batch.outcomes == {"rejected": 1}
    assert "withdrew" in batch.answers[0][1]["reasons"][0]["message"]


def test_a_consent_dated_after_the_arrival_is_not_believed() -> None:
    future = arrival(consent=consent(at=T + timedelta(hours=1)))
    assert future.statement.disbelieved and not future.consent
    batch = plan(REQUIRED, future)
    assert batch.outcomes == {"rejected": 1}
    answer = batch.answers[0][1]
    assert "after the lead arrived" in answer["consent"] and "after the lead arrived" in answer["reasons"][0]["message"]
    # a source's clock a little ahead is no reason to doubt it
    assert plan(REQUIRED, arrival(consent=consent(at=T + timedelta(minutes=4)))).outcomes == {"qualified": 1}


def test_the_latest_statement_per_scope_wins_and_others_stay() -> None:
    sms = domain.consent_statement(LeadReceived.model_validate({"consent": consent("sms")}).consent,
                                   received_at=T, source="a", event_id="1").records
    calls = domain.consent_statement(LeadReceived.model_validate({"consent": consent("calls", T)}).consent,
                                     received_at=T, source="b", event_id="2").records
    lead = domain.merge_consent(sms, calls).consent
    older_no = domain.consent_statement(
        LeadReceived.model_validate({"consent": consent("calls", T - timedelta(days=9), granted=False)}).consent,
        received_at=T, source="c", event_id="3").records
    change = domain.merge_consent(lead, older_no)
    assert not change.changed and change.consent == lead  # older than what the lead has: nothing changes
    later_no = domain.consent_statement(
        LeadReceived.model_validate({"consent": consent("calls", T + timedelta(minutes=1), granted=False)}).consent,
        received_at=T + timedelta(minutes=2), source="c", event_id="4").records
    change = domain.merge_consent(lead, later_no)
    assert change.withdrawn == ["telemarketing"] and change.granted == []
    assert {c["scope"]: c["granted"] for c in change.consent} == {"telemarketing": False, "sms": True}


def test_a_merge_that_withdraws_telemarketing_is_announced_for_the_allocator() -> None:
    first = plan(REQUIRED, arrival(consent=consent()))
    [new] = first.new_leads.values()
    known = IntakeLead(new.lead_id, phone_e164="+8613924681357", consent=new.fields["consent"])
    later = arrival("e-2", T + timedelta(hours=1), consent=consent("telemarketing", T + timedelta(minutes=30),
                                                                    granted=False))
    batch = plan(REQUIRED, later, known=[known])
    assert batch.outcomes == {"merged": 1}
    [append] = batch.appends
    assert isinstance(append, AppendTouch) and append.consent_before == new.fields["consent"]
    assert append.consent is not None and append.consent[0]["granted"] is False
    changed = [a for a in batch.announcements if a.topic is LEADS_CONSENT_CHANGED]
    assert len(changed) == 1
    data = changed[0].data
    assert isinstance(data, LeadConsentChanged) and data.withdrawn == ["telemarketing"] and data.lead_id == new.lead_id
    assert batch.answers[0][1]["consent"] == "granted: -; withdrawn: telemarketing"


def test_a_merge_without_consent_into_a_known_lead_changes_nothing_and_is_not_refused() -> None:
    known = IntakeLead("L-1", phone_e164="+8613924681357")  # qualified before the tenant required consent
    batch = plan(REQUIRED, arrival("e-3"), known=[known])
    assert batch.outcomes == {"merged": 1}
    [append] = batch.appends
    assert append.consent is None and [a.topic for a in batch.announcements] != [LEADS_CONSENT_CHANGED]
    assert not [a for a in batch.announcements if a.topic is LEADS_CONSENT_CHANGED]


def test_consent_granted_by_a_later_arrival_of_the_same_batch_folds_into_the_new_lead() -> None:
    batch = plan(REQUIRED, arrival("e-1", consent=consent()),
                 arrival("e-2", consent=consent("sms", T - timedelta(hours=1))))
    [new] = batch.new_leads.values()
    assert [c["scope"] for c in new.fields["consent"]] == ["telemarketing", "sms"]
    assert batch.outcomes == {"qualified": 1, "merged": 1}


def test_a_person_rejected_for_no_consent_qualifies_when_consent_arrives() -> None:
    assert plan(REQUIRED, arrival("e-1")).outcomes == {"rejected": 1}
    assert plan(REQUIRED, arrival("e-2", consent=consent())).outcomes == {"qualified": 1}
