"""Leads the way outside systems send them (issue 15): extra fields kept, the system's own lead id carried in
every answer and searchable, one touch per outside record, envelopes as CloudEvents says (binary mode, other
spellings of the type, a required id). Real handlers and MongoDB, in-memory broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from intake_support import Harness
from telesales_contracts.topics import (
    DEAD_LETTERS,
    LEADS_MERGED,
    LEADS_OUTCOME,
    LEADS_QUALIFIED,
    LEADS_RECEIVED,
    LEADS_REJECTED,
)
from telesales_runtime.consumer import Delivery

CRM = "/crm/partner-x"


def crm_lead(**overrides: Any) -> dict[str, Any]:
    """A lead as a partner's CRM sends it: its own field names, its own id, fields the contract does not name."""
    data: dict[str, Any] = {"Name": "王芳", "Mobile_Phone_Unknown": "whatever", "Phone": "186 0431 2468",
                            "crm_id": 4711, "owner": "sales-team-7", "tags": ["vip", "2026"],
                            "campaign": {"name": "双11", "budget_fen": 200_000}, "business_line": "education"}
    data.update(overrides)
    return data


async def publish(harness: Harness, data: Any, *, source: str = CRM, event_type: str = "telesales.leads.received.v1",
                  event_id: str | None = "new", topic: str = LEADS_RECEIVED.name, **attributes: Any) -> str:
    """An event as an outside system publishes it (structured JSON); its id."""
    event: dict[str, Any] = {"specversion": "1.0", "source": source, "type": event_type, "tenantid": harness.tenant,
                             "time": "2026-11-24T09:30:00+08:00", "data": data, **attributes}
    if event_id is not None:
        event["id"] = str(uuid.uuid4()) if event_id == "new" else event_id
    await harness.broker.publish(json.dumps(event, ensure_ascii=False).encode(), topic=topic,
                                 headers={"content-type": "application/cloudevents+json"})
    return event.get("id", "")


async def test_an_outside_systems_lead_with_extra_fields_and_its_own_id_is_qualified_and_found(harness: Harness) -> None:
    event_id = await publish(harness, crm_lead(), event_type="leads.received.v1", partnerbatch="b-17")
    await harness.relay()
    [qualified] = harness.of(LEADS_QUALIFIED.name)
    data = qualified["data"]
    assert data["phone_e164"] == "+8618604312468" and data["name"] == "王芳"  # Phone and Name are those fields
    assert data["touch"] | {"received_at": None} == {
        "event_id": event_id, "source": CRM, "channel": "unknown", "channel_raw": None, "received_at": None,
        "source_system": CRM, "external_id": "4711", "event_type": "leads.received.v1"}
    assert data["external_refs"] == [{"source_system": CRM, "external_id": "4711"}]
    assert data["extra"] == {"Mobile_Phone_Unknown": "whatever", "owner": "sales-team-7", "tags": ["vip", "2026"],
                             "campaign": {"name": "双11", "budget_fen": 200_000}}

    stored = (await harness.http.get(f"/v1/leads/{data['lead_id']}")).json()
    assert stored["extra"] == data["extra"] and stored["external_refs"] == data["external_refs"]
    assert stored["touches"][0]["external_id"] == "4711" and stored["touches"][0]["extra"] == data["extra"]
    for query in ({"source_system": CRM, "external_id": "4711"}, {"external_id": "4711"}, {"source_system": CRM}):
        found = (await harness.http.get("/v1/leads", params=query)).json()["items"]
        assert [item["lead_id"] for item in found] == [data["lead_id"]], query
    for query in ({"source_system": "/crm/other", "external_id": "4711"}, {"external_id": "4712"}):
        assert (await harness.http.get("/v1/leads", params=query)).json()["items"] == []


async def test_the_same_outside_record_again_updates_its_touch_instead_of_adding_one(harness: Harness) -> None:
    await publish(harness, crm_lead())
    resent = {key: value for key, value in crm_lead(owner="sales-team-9").items() if key != "crm_id"}
    again = await publish(harness, {**resent, "crmId": "4711"}, event_type="LeadsReceived")  # its id spelled otherwise
    [stored] = await harness.leads()
    assert stored["touches_count"] == 1 and len(stored["touches"]) == 1
    touch = stored["touches"][0]
    assert (touch["event_id"], touch["event_type"], touch["extra"]["owner"]) == (again, "LeadsReceived", "sales-team-9")
    await harness.relay()
    [merged] = harness.of(LEADS_MERGED.name)
    assert (merged["data"]["lead_id"], merged["data"]["matched_on"], merged["data"]["touches"]) == (
        stored["_id"], "external_ref", 1)
    assert merged["data"]["touch"]["external_id"] == "4711" and merged["data"]["extra"]["owner"] == "sales-team-9"
    status = (await harness.http.get(f"/v1/submissions/{again}")).json()
    assert (status["status"], status["lead_id"], status["matched_on"]) == ("merged", stored["_id"], "external_ref")
    # the same record with another number is still the same record: the reference wins over the phone
    await publish(harness, crm_lead(Phone="139 2468 1357"))
    [stored] = await harness.leads()
    assert stored["touches_count"] == 1 and stored["phone_e164"] == "+8618604312468"


async def test_a_repeat_from_another_system_is_merged_and_carries_every_reference(harness: Harness) -> None:
    await publish(harness, crm_lead())
    web = await publish(harness, {"phone": "+86 186-0431-2468", "source_lead_id": "form-99"}, source="/web/landing")
    plain = await publish(harness, {"phone": "18604312468"}, source="/dialer")
    [stored] = await harness.leads()
    assert stored["touches_count"] == 3
    assert stored["external_refs"] == [{"source_system": CRM, "external_id": "4711"},
                                       {"source_system": "/web/landing", "external_id": "form-99"}]
    await harness.relay()
    first, second = harness.of(LEADS_MERGED.name)
    assert (first["data"]["touch"]["event_id"], first["data"]["matched_on"], first["data"]["touches"]) == (web, "phone", 2)
    assert first["data"]["touch"]["external_id"] == "form-99"
    assert first["data"]["external_refs"] == stored["external_refs"]  # the CRM can match this answer too
    assert second["data"]["touch"]["event_id"] == plain and second["data"]["touch"]["external_id"] is None
    assert second["data"]["external_refs"] == stored["external_refs"]
    found = (await harness.http.get("/v1/leads", params={"source_system": "/web/landing", "external_id": "form-99"}))
    assert [item["lead_id"] for item in found.json()["items"]] == [stored["_id"]]


async def test_junk_from_an_outside_system_is_rejected_with_its_reference(harness: Harness) -> None:
    await publish(harness, crm_lead(Phone="13800138000", crm_id="C-junk"))
    await harness.relay()
    [rejected] = harness.of(LEADS_REJECTED.name)
    assert [r["code"] for r in rejected["data"]["reasons"]] == ["test_number"]
    assert (rejected["data"]["touch"]["source_system"], rejected["data"]["touch"]["external_id"]) == (CRM, "C-junk")
    assert await harness.leads() == []


async def test_the_system_named_in_the_data_comes_before_the_events_source(harness: Harness) -> None:
    await publish(harness, crm_lead(source_system="crm.partner-x", crm_id="G-1"), source="/gateway")
    [stored] = await harness.leads()
    assert stored["external_refs"] == [{"source_system": "crm.partner-x", "external_id": "G-1"}]
    assert (stored["touches"][0]["source"], stored["touches"][0]["source_system"]) == ("/gateway", "crm.partner-x")


async def test_an_outcome_named_by_the_outside_reference_is_applied_and_its_answer_carries_it(
        harness: Harness) -> None:
    await publish(harness, crm_lead())
    [stored] = await harness.leads()
    event_id = await publish(harness, {"crm_id": "4711", "result": "won", "outcome": "won", "amount_fen": 990_000},
                             topic=LEADS_OUTCOME.name, event_type="leads.outcome.v1")
    after = (await harness.http.get(f"/v1/leads/{stored['_id']}")).json()
    assert after["outcome"] | {"decided_at": None} == {
        "outcome": "won", "amount_fen": 990_000, "event_id": event_id, "decided_at": None, "source": CRM,
        "source_system": CRM, "external_id": "4711", "extra": {"result": "won"}}
    assert await harness.intake.store.inbox.outcome(harness.tenant, event_id) | {"processed_at": None} == {
        "status": "outcome_recorded", "lead_id": stored["_id"], "source_system": CRM, "external_id": "4711",
        "learned": "new", "processed_at": None}
    models = (await harness.http.get("/v1/scoring/models")).json()
    assert models == [{"business_line": "education", "won": 1, "lost": 0, "active": False}]
    # a reference of another system, or one nobody has: kept for a replay, with what was looked for
    await publish(harness, {"crm_id": "4711", "outcome": "lost"}, topic=LEADS_OUTCOME.name,
                  event_type="leads.outcome.v1", source="/crm/other")
    [letter] = harness.of(DEAD_LETTERS.name)
    assert letter["data"]["error_type"] == "unknown_lead"
    assert "external id '4711' from '/crm/other'" in letter["data"]["error"]


async def test_an_event_without_an_id_is_dead_lettered_with_that_reason(harness: Harness) -> None:
    await publish(harness, crm_lead(), event_id=None)
    await publish(harness, crm_lead(), event_id="  ")
    errors = [(e["data"]["error_type"], e["data"]["error"]) for e in harness.of(DEAD_LETTERS.name)]
    assert errors == [("schema_error", "id: Field required"),
                      ("schema_error", "id: String should have at least 1 character")]
    assert await harness.leads() == []


async def test_extra_fields_beyond_a_bound_are_dead_lettered_naming_it(harness: Harness) -> None:
    await publish(harness, crm_lead(**{"utm.source": "baidu"}))
    await publish(harness, crm_lead(**{f"f{n}": n for n in range(51)}))
    errors = [e["data"]["error"] for e in harness.of(DEAD_LETTERS.name)]
    assert "'utm.source': a name may not start with '$' or hold '.'" in errors[0]
    assert "fields the contract does not name; at most 50 are kept" in errors[1]
    assert await harness.leads() == []


async def test_a_binary_mode_event_is_processed(harness: Harness) -> None:
    event_id = str(uuid.uuid4())
    headers = {"ce_specversion": "1.0", "ce_id": event_id, "ce_source": CRM, "ce_type": "leads.received.v1",
               "ce_tenantid": harness.tenant, "ce_time": "2026-11-24T09:30:00+08:00", "ce_traceparent": "00-a-b-01",
               "content-type": "application/json; charset=utf-8"}
    await harness.broker.publish(json.dumps(crm_lead(), ensure_ascii=False).encode(), topic=LEADS_RECEIVED.name,
                                 headers=headers)
    [stored] = await harness.leads()
    assert stored["touches"][0]["event_id"] == event_id and stored["external_refs"][0]["external_id"] == "4711"
    assert stored["touches"][0]["event_type"] == "leads.received.v1"
    # a binary-mode event that cannot be read keeps its headers in the dead letter (for a replay)
    await harness.broker.publish(b'{"phone": "18604312468"}', topic=LEADS_RECEIVED.name,
                                 headers={**headers, "ce_id": "", "ce_tenant_id": "x"})
    [letter] = harness.of(DEAD_LETTERS.name)
    assert "ce_tenant_id" in letter["data"]["error"] and "ce_traceparent" in letter["data"]["headers"]


def delivery(harness: Harness, data: dict[str, Any]) -> Delivery:
    event = LEADS_RECEIVED.event_model.model_validate(
        {"specversion": "1.0", "id": str(uuid.uuid4()), "source": CRM, "type": LEADS_RECEIVED.event_type,
         "tenantid": harness.tenant, "data": data})
    return Delivery(event=event, record=None)


async def test_one_batch_with_the_same_outside_record_twice_makes_one_lead_with_one_touch(harness: Harness) -> None:
    first, second = delivery(harness, crm_lead(owner="a")), delivery(harness, crm_lead(owner="b", Phone="13924681357"))
    assert await harness.intake.handle_received([first, second]) == {"qualified": 1, "merged": 1}
    [stored] = await harness.leads()
    assert stored["touches_count"] == 1 and stored["touches"][0]["extra"]["owner"] == "b"


async def test_concurrent_deliveries_of_one_outside_record_never_make_two_leads(harness: Harness) -> None:
    """Different numbers, same record: the unique index on references lets one insert; the others update it."""
    deliveries = [delivery(harness, crm_lead(Phone=f"1392468{1300 + i}", owner=str(i))) for i in range(6)]
    results = await asyncio.gather(*(harness.intake.handle_received([d]) for d in deliveries))
    assert sum(r.get("qualified", 0) for r in results) == 1 and sum(r.get("merged", 0) for r in results) == 5
    [stored] = await harness.leads()
    assert stored["touches_count"] == 1 and stored["external_refs"] == [{"source_system": CRM, "external_id": "4711"}]


async def test_concurrent_repeats_of_a_person_from_one_record_add_its_reference_once(harness: Harness) -> None:
    await publish(harness, {"phone": "18604312468"}, source="/web")
    deliveries = [delivery(harness, crm_lead(owner=str(i))) for i in range(5)]
    await asyncio.gather(*(harness.intake.handle_received([d]) for d in deliveries))
    [stored] = await harness.leads()
    assert stored["touches_count"] == 2  # the web form's, and the CRM record's (updated four times)
    assert stored["external_refs"] == [{"source_system": CRM, "external_id": "4711"}]


async def test_over_http_a_lead_keeps_its_extra_fields_and_id_and_an_import_reads_id_columns(harness: Harness) -> None:
    response = await harness.http.post("/v1/leads", json={"phone": "186 0431 2468", "crm_id": "H-1", "owner": "x"},
                                       headers={"X-Source": "/crm/http-client"})
    status = (await harness.http.get(response.json()["status_url"])).json()
    stored = (await harness.http.get(f"/v1/leads/{status['lead_id']}")).json()
    assert stored["external_refs"] == [{"source_system": "/crm/http-client", "external_id": "H-1"}]
    assert stored["extra"] == {"owner": "x"}
    rows = "phone,CRM-ID,owner\n13924681357,R-1,y\n"
    response = await harness.http.post("/v1/leads:import", content=rows.encode(), headers={
        "content-type": "text/csv", "X-Source": "/lists/vendor"})
    assert response.status_code == 202, response.text
    found = (await harness.http.get("/v1/leads", params={"external_id": "R-1"})).json()["items"]
    assert [(f["phone_e164"], f["attributes"]) for f in found] == [("+8613924681357", {"owner": "y"})]


async def test_extra_fields_are_masked_for_roles_that_may_not_see_contacts(harness: Harness) -> None:
    await publish(harness, crm_lead(backup_phone="139 2468 1357", contact_name="王芳"))
    [stored] = await harness.leads()
    seen = (await harness.http.get(f"/v1/leads/{stored['_id']}", headers=harness.as_("supervisor", "s-1"))).json()
    assert seen["masked"] and seen["extra"]["backup_phone"] == "139****1357" and seen["extra"]["contact_name"] == "王**"
    assert seen["touches"][0]["extra"]["backup_phone"] == "139****1357"


async def test_a_lead_keeps_a_bounded_number_of_references_and_its_touches_the_rest(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers carry every reference of a lead, so their number is bounded (MAX_EXTERNAL_REFS); one beyond is
    recorded on its touch only, and the lead goes on taking repeats."""
    from lead_intake.domain import lead as lead_rules
    monkeypatch.setattr(lead_rules, "MAX_EXTERNAL_REFS", 2)
    for n, source in enumerate(("/crm/a", "/crm/b", "/crm/c")):
        await publish(harness, {"phone": "18604312468", "crm_id": f"R-{n}"}, source=source)
    [stored] = await harness.leads()
    assert [r["external_id"] for r in stored["external_refs"]] == ["R-0", "R-1"]
    assert stored["touches_count"] == 3 and stored["touches"][2]["external_id"] == "R-2"
    await harness.relay()
    last = harness.of(LEADS_MERGED.name)[-1]["data"]
    assert last["touch"]["external_id"] == "R-2" and len(last["external_refs"]) == 2
