"""Unit tests of where a lead came from (lead_intake.touches): the touch of an arrival, its producing system and
outside reference, a lead's references and extra fields. Pure functions, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime

from lead_intake.domain import lead_extra, producing_system, ref_of, standardize, touch, touch_doc, with_ref
from telesales_contracts.leads import LeadReceived

T = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)


def arrival(**data: object) -> dict:
    clean = standardize(LeadReceived.model_validate({"phone": "13924681357", **data}), "CN")
    return touch(event_id="e-1", event_source="/crm/x", event_type="leads.received.v1", received_at=T, clean=clean)


def test_a_standardized_lead_keeps_the_outside_id_the_system_and_the_extra_fields() -> None:
    clean = standardize(LeadReceived.model_validate({"phone": "1", "CRM_ID": 7, "source_system": "crm-x",
                                                     "owner": "li", "behaviour": {"clicks": 3}}), "CN")
    assert (clean.external_id, clean.source_system) == ("7", "crm-x")
    assert clean.extra == {"owner": "li", "behaviour": {"clicks": 3}}


def test_the_producing_system_is_the_leads_own_word_else_the_events_source() -> None:
    assert producing_system(standardize(LeadReceived(phone="1", source_system="crm-x"), "CN"), "/gw") == "crm-x"
    assert producing_system(standardize(LeadReceived(phone="1"), "CN"), "/gw") == "/gw"


def test_a_touch_records_the_system_its_id_of_the_lead_and_the_type_as_spelled() -> None:
    assert arrival(external_id="X-1", channel="微信") == {
        "event_id": "e-1", "source": "/crm/x", "channel": "im", "channel_raw": "微信", "received_at": T,
        "source_system": "/crm/x", "external_id": "X-1", "event_type": "leads.received.v1"}
    assert arrival()["external_id"] is None


def test_a_touch_has_a_reference_only_with_an_outside_id() -> None:
    assert ref_of(arrival(crm_id="X-1")) == {"source_system": "/crm/x", "external_id": "X-1"}
    assert ref_of(arrival()) is None


def test_a_leads_references_are_kept_once_in_the_order_they_came() -> None:
    a, b = {"source_system": "s", "external_id": "1"}, {"source_system": "t", "external_id": "1"}
    assert with_ref([a], b) == [a, b] and with_ref([a, b], dict(a)) == [a, b] and with_ref([a], None) == [a]


def test_the_extra_fields_of_a_lead_are_its_touches_a_later_one_over_an_earlier() -> None:
    touches = [touch_doc(arrival(), {"owner": "li", "tier": 1}), touch_doc(arrival(), {}),
               touch_doc(arrival(), {"owner": "wang"})]
    assert "extra" not in touches[1]  # stored only when there is something
    assert lead_extra(touches) == {"owner": "wang", "tier": 1}
