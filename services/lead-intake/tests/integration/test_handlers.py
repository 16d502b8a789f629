"""leads.received.v1, leads.outcome.v1 and leads.complaint.v1 handlers: real MongoDB, in-memory broker
(TestKafkaBroker)."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from types import SimpleNamespace

import pytest

from intake_support import Harness, lead
from lead_intake import domain
from telesales_contracts.topics import (
    DEAD_LETTERS,
    LEADS_COMPLAINT,
    LEADS_MERGED,
    LEADS_OUTCOME,
    LEADS_QUALIFIED,
    LEADS_RECEIVED,
    LEADS_REJECTED,
)
from telesales_runtime.consumer import Delivery, consume_batch


async def test_valid_lead_is_stored_and_qualified_with_explained_score(harness: Harness) -> None:
    event_id = await harness.send(lead())
    [stored] = await harness.leads()
    assert stored["phone_e164"] == "+8613924681357"
    assert stored["email"] == "zhangwei@example.cn"
    assert stored["channel"] == "search_ads_seo" and stored["channel_raw"] == "百度SEM"
    assert stored["number_type"] == "mobile" and stored["carrier"] == "中国移动"
    assert stored["region"].startswith("广东省")
    assert stored["touches"][0]["event_id"] == event_id

    # nothing leaves before the outbox is relayed: the event and the lead were written together
    assert harness.of(LEADS_QUALIFIED.name) == []
    await harness.relay()
    [event] = harness.of(LEADS_QUALIFIED.name)
    data = event["data"]
    assert event["type"] == "telesales.leads.qualified.v1" and event["subject"] == stored["_id"]
    assert data["lead_id"] == stored["_id"]
    features = {c["feature"]: c["points"] for c in data["score_breakdown"]}
    assert features["channel"] == 20 and features["number_type"] == 15 and features["behaviour.unpaid_order"] == 15
    assert data["score"] == min(100, round(sum(features.values())))
    assert data["grade"] == "A" and data["model"] is None
    assert await harness.intake.store.outbox.count_documents({"tenant_id": harness.tenant}) == 0


async def test_same_person_again_is_merged_not_duplicated(harness: Harness) -> None:
    await harness.send(lead())
    second = await harness.send(lead(phone="+86 139-2468-1357", channel="抖音", email=None))
    third = await harness.send(lead(phone=None, email="ZhangWei@Example.cn", channel="forum"))
    [stored] = await harness.leads()
    assert stored["touches_count"] == 3
    assert [t["event_id"] for t in stored["touches"]][1:] == [second, third]
    await harness.relay()
    merged = harness.of(LEADS_MERGED.name)
    assert [(m["data"]["matched_on"], m["data"]["touches"]) for m in merged] == [("phone", 2), ("email", 3)]
    assert len(harness.of(LEADS_QUALIFIED.name)) == 1


async def test_redelivered_event_has_no_second_effect(harness: Harness) -> None:
    event_id = str(uuid.uuid4())
    await harness.send(lead(), event_id=event_id)
    await harness.send(lead(), event_id=event_id)
    await harness.send(lead(channel="other"), event_id=event_id)
    [stored] = await harness.leads()
    assert stored["touches_count"] == 1
    await harness.relay()
    assert len(harness.of(LEADS_QUALIFIED.name)) == 1 and harness.of(LEADS_MERGED.name) == []


async def test_one_batch_with_the_same_person_twice_makes_one_lead(harness: Harness) -> None:
    first, second = (harness_delivery(harness, lead(name=n)) for n in ("A", "B"))
    outcome = await harness.intake.handle_received([first, second])
    assert outcome == {"qualified": 1, "merged": 1}
    [stored] = await harness.leads()
    assert stored["name"] == "A" and stored["touches_count"] == 2


async def test_concurrent_deliveries_of_one_person_never_make_two_leads(harness: Harness) -> None:
    """Two consumers race on the same new phone: the unique index lets one insert; the other merges."""
    deliveries = [harness_delivery(harness, lead(name=f"racer {i}")) for i in range(6)]
    results = await asyncio.gather(*(harness.intake.handle_received([d]) for d in deliveries))
    assert sum(r.get("qualified", 0) for r in results) == 1
    assert sum(r.get("merged", 0) for r in results) == 5
    [stored] = await harness.leads()
    assert stored["touches_count"] == 6


@pytest.mark.parametrize(
    ("overrides", "codes"),
    [
        ({"phone": "13800138000"}, ["test_number"]),
        ({"phone": "12345"}, ["impossible_number"]),
        ({"phone": "16012345678"}, ["invalid_number"]),
        ({"phone": "abc"}, ["impossible_number"]),
        ({"phone": None, "email": None}, ["no_contact"]),
        ({"phone": None, "email": "not-an-email"}, ["invalid_email", "no_contact"]),
    ],
)
async def test_junk_is_rejected_with_reason_codes(harness: Harness, overrides: dict, codes: list[str]) -> None:
    event_id = await harness.send(lead(**overrides))
    assert await harness.leads() == []
    await harness.relay()
    [rejected] = harness.of(LEADS_REJECTED.name)
    assert [r["code"] for r in rejected["data"]["reasons"]] == codes
    status = await harness.http.get(f"/v1/submissions/{event_id}")
    assert status.json()["status"] == "rejected"


async def test_do_not_call_number_is_rejected(harness: Harness) -> None:
    response = await harness.http.put("/v1/do-not-call/139-2468-1357", json={"reason": "customer asked"})
    assert response.status_code == 200 and response.json()["phone_masked"] == "+86139****1357"
    await harness.send(lead())
    await harness.relay()
    [rejected] = harness.of(LEADS_REJECTED.name)
    assert [r["code"] for r in rejected["data"]["reasons"]] == ["do_not_call"]
    assert await harness.leads() == []


@pytest.mark.parametrize(
    ("payload", "error_type"),
    [
        (b"\xff\xfe not json at all", "json_error"),
        (b'{"specversion": "1.0"}', "schema_error"),
        (b"[1, 2, 3]", "schema_error"),
    ],
)
async def test_garbage_goes_to_the_dead_letter_topic_and_the_consumer_goes_on(
    harness: Harness, payload: bytes, error_type: str
) -> None:
    await harness.send(payload)
    await harness.send(lead())  # the next message on the topic is still processed
    letters = [e for e in harness.events[DEAD_LETTERS.name] if base64.b64decode(e["data"]["payload_b64"]) == payload]
    assert len(letters) == 1
    letter = letters[0]["data"]
    assert letter["error_type"] == error_type and letter["original_topic"] == "leads.received.v1"
    assert letter["service"] == "lead-intake" and letter["error"]
    assert len(await harness.leads()) == 1


async def test_another_kind_of_event_is_dead_lettered_naming_both_types(harness: Harness) -> None:
    await harness.send(lead(), event_type="telesales.leads.qualified.v1")
    [letter] = harness.of(DEAD_LETTERS.name)
    assert letter["data"]["error"] == ("type 'telesales.leads.qualified.v1' is another kind of event than topic "
                                       "leads.received.v1 carries: 'telesales.leads.received.v1' (or another "
                                       "spelling of it, e.g. 'leads.received.v1')")
    assert await harness.leads() == []


async def test_tenants_never_see_each_other(harness: Harness) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    await harness.send(lead())
    await harness.send(lead(), tenant=other)
    mine = await harness.leads()
    theirs = await harness.intake.store.leads.find({"tenant_id": other}).to_list()
    assert len(mine) == 1 and len(theirs) == 1 and mine[0]["_id"] != theirs[0]["_id"]
    assert mine[0]["touches_count"] == 1  # not merged across tenants
    response = await harness.http.get(f"/v1/leads/{theirs[0]['_id']}")
    assert response.status_code == 404


async def test_outcomes_train_the_model_that_then_blends_into_scores(harness: Harness) -> None:
    await harness.http.put("/v1/scoring/weights", json={"model_min_outcomes": 4, "model_min_per_class": 2})
    lead_ids = []
    for i in range(4):
        await harness.send(lead(phone=f"1392468{1360 + i}", email=None, channel="inbound" if i < 2 else "forum"))
    lead_ids = [d["_id"] for d in sorted(await harness.leads(), key=lambda d: d["phone_e164"])]
    for lead_id, outcome in zip(lead_ids, ["won", "won", "lost", "lost"], strict=True):
        await harness.send({"lead_id": lead_id, "outcome": outcome}, topic=LEADS_OUTCOME.name)
    models = (await harness.http.get("/v1/scoring/models")).json()
    assert models == [{"business_line": "education", "won": 2, "lost": 2, "active": True}]

    await harness.send(lead(phone="13924681370", email=None, channel="inbound"))
    await harness.relay()
    scored = harness.of(LEADS_QUALIFIED.name)[-1]["data"]
    assert scored["model"]["outcomes_used"] == 4
    assert scored["model"]["probability_won"] > 0.5
    assert scored["model"]["feature_log_odds"]["channel"] > 0
    earlier = harness.of(LEADS_QUALIFIED.name)[0]["data"]
    assert earlier["model"] is None


async def test_the_status_of_an_event_that_was_no_submission_is_a_404(harness: Harness) -> None:
    await harness.send(lead())
    [stored] = await harness.leads()
    event_id = str(uuid.uuid4())
    await harness.send({"lead_id": stored["_id"], "outcome": "won"}, topic=LEADS_OUTCOME.name, event_id=event_id)
    response = await harness.http.get(f"/v1/submissions/{event_id}")
    assert (response.status_code, response.json()["code"]) == (404, "not_a_submission")


async def test_outcome_redelivery_counts_once_and_unknown_lead_is_dead_lettered(harness: Harness) -> None:
    await harness.send(lead())
    [stored] = await harness.leads()
    event_id = str(uuid.uuid4())
    for _ in range(2):
        await harness.send({"lead_id": stored["_id"], "outcome": "won", "amount_fen": 1_280_000},
                           topic=LEADS_OUTCOME.name, event_id=event_id)
    models = (await harness.http.get("/v1/scoring/models")).json()
    assert models[0]["won"] == 1
    await harness.send({"lead_id": "no-such-lead", "outcome": "lost"}, topic=LEADS_OUTCOME.name)
    [letter] = harness.of(DEAD_LETTERS.name)
    assert letter["data"]["error_type"] == "unknown_lead"


async def test_a_lead_said_won_by_two_systems_counts_once_and_a_later_loss_replaces_it(harness: Harness) -> None:
    """The allocator says a win its supervisor confirmed and the CRM its own order (two events): one win in the
    model; the CRM then says the sale was lost: the model holds one loss, no win."""
    await harness.send(lead())
    [stored] = await harness.leads()
    await harness.send({"lead_id": stored["_id"], "outcome": "won", "amount_fen": 500}, topic=LEADS_OUTCOME.name)
    await harness.send({"lead_id": stored["_id"], "outcome": "won", "amount_fen": 500, "order_ref": "SO-1"},
                       topic=LEADS_OUTCOME.name)
    [model] = (await harness.http.get("/v1/scoring/models")).json()
    assert (model["won"], model["lost"]) == (1, 0)
    await harness.send({"lead_id": stored["_id"], "outcome": "lost"}, topic=LEADS_OUTCOME.name)
    [model] = (await harness.http.get("/v1/scoring/models")).json()
    assert (model["won"], model["lost"]) == (0, 1)
    stored_model = await harness.intake.store.models.find_one({"tenant_id": harness.tenant})
    assert stored_model is not None
    assert all(cell.get("won", 0) == 0 and cell.get("lost", 0) in (0, 1) for cell in stored_model["features"].values())


async def test_complaint_puts_the_leads_number_on_do_not_call_and_later_leads_are_rejected(harness: Harness) -> None:
    await harness.send(lead())
    [stored] = await harness.leads()
    event_id = await harness.send({"lead_id": stored["_id"], "reason": "called three times a day"},
                                  topic=LEADS_COMPLAINT.name)
    entry = (await harness.http.get("/v1/do-not-call/13924681357")).json()
    assert entry["phone_masked"] == "+86139****1357" and entry["reason"] == "complaint: called three times a day"
    assert await harness.intake.store.inbox.outcome(harness.tenant, event_id) is not None

    await harness.send(lead(name="张伟 again", email="other@example.cn"))  # same number: not merged, rejected
    await harness.relay()
    [listed] = harness.of("leads.do-not-call.v1")  # the allocator closes the number's leads on it
    assert listed["data"] | {"changed_at": None} == {
        "phone_bidx": harness.intake.store.sealing.phone_index(harness.tenant, "+8613924681357"),
        "phone_masked": "+86139****1357", "phone_e164": None, "listed": True, "source": "complaint",
        "reason": "complaint: called three times a day", "lead_id": stored["_id"], "changed_at": None}
    [rejected] = harness.of(LEADS_REJECTED.name)
    assert [r["code"] for r in rejected["data"]["reasons"]] == ["do_not_call"]
    assert [d["_id"] for d in await harness.leads()] == [stored["_id"]]
    [stored_again] = await harness.leads()
    assert stored_again["touches_count"] == 1
    assert harness.of(DEAD_LETTERS.name) == []


async def test_complaint_with_its_own_number_lists_that_number(harness: Harness) -> None:
    await harness.send(lead())
    [stored] = await harness.leads()
    await harness.send({"lead_id": stored["_id"], "reason": "rude agent", "phone_e164": "+8618604312468"},
                       topic=LEADS_COMPLAINT.name)
    listed = (await harness.http.get("/v1/do-not-call")).json()["items"]
    assert [(e["phone_masked"], e["reason"]) for e in listed] == [("+86186****2468", "complaint: rude agent")]

    await harness.send(lead(phone="186 0431 2468", email=None))
    await harness.send(lead(phone="139 2468 1357", email=None))  # the lead's own number was not listed: merged
    await harness.relay()
    [rejected] = harness.of(LEADS_REJECTED.name)
    assert rejected["data"]["phone_e164"] == "+8618604312468"
    assert [r["code"] for r in rejected["data"]["reasons"]] == ["do_not_call"]
    assert len(harness.of(LEADS_MERGED.name)) == 1


async def test_complaint_for_a_number_already_listed_is_no_error(harness: Harness) -> None:
    await harness.http.put("/v1/do-not-call/139-2468-1357", json={"reason": "customer asked"})
    added_at = (await harness.http.get("/v1/do-not-call/13924681357")).json()["added_at"]
    await harness.send({"lead_id": "any-lead", "reason": "again", "phone_e164": "+8613924681357"},
                       topic=LEADS_COMPLAINT.name)
    [entry] = (await harness.http.get("/v1/do-not-call")).json()["items"]
    assert entry["phone_masked"] == "+86139****1357" and entry["added_at"] == added_at
    assert entry["reason"] == "complaint: again"
    assert harness.of(DEAD_LETTERS.name) == []


async def test_complaint_redelivery_is_processed_once(harness: Harness) -> None:
    await harness.send(lead())
    [stored] = await harness.leads()
    event_id = str(uuid.uuid4())
    await harness.send({"lead_id": stored["_id"], "reason": "first"}, topic=LEADS_COMPLAINT.name, event_id=event_id)
    first = await harness.intake.store.get_do_not_call(harness.tenant, "+8613924681357")
    assert first is not None
    # the same event id again, even with other content, has no second effect
    await harness.send({"lead_id": stored["_id"], "reason": "second"}, topic=LEADS_COMPLAINT.name, event_id=event_id)
    again = await harness.intake.store.get_do_not_call(harness.tenant, "+8613924681357")
    assert again == first and again["reason"] == "complaint: first"
    assert await harness.intake.store.inbox.collection.count_documents(
        {"tenant_id": harness.tenant, "event_id": event_id}) == 1
    assert harness.of(DEAD_LETTERS.name) == []


async def test_complaint_about_an_unknown_lead_without_a_number_is_dead_lettered(harness: Harness) -> None:
    await harness.send(lead())
    [stored] = await harness.leads()
    other = f"t-{uuid.uuid4().hex[:12]}"
    await harness.send({"lead_id": "no-such-lead", "reason": "stop calling"}, topic=LEADS_COMPLAINT.name)
    # a lead of another tenant is unknown here too
    await harness.send({"lead_id": stored["_id"], "reason": "stop calling"}, topic=LEADS_COMPLAINT.name, tenant=other)
    letters = [e for e in harness.events[DEAD_LETTERS.name] if e["tenantid"] in (harness.tenant, other)]
    assert [(e["tenantid"], e["data"]["error_type"], e["data"]["original_topic"]) for e in letters] == [
        (harness.tenant, "unknown_lead", LEADS_COMPLAINT.name), (other, "unknown_lead", LEADS_COMPLAINT.name)]
    assert (await harness.http.get("/v1/do-not-call")).json()["items"] == []
    assert await harness.intake.store.do_not_call.count_documents({"tenant_id": other}) == 0


async def test_complaint_about_a_lead_without_a_number_is_dead_lettered(harness: Harness) -> None:
    await harness.send(lead(phone=None))
    [stored] = await harness.leads()
    assert stored["phone_e164"] is None
    await harness.send({"lead_id": stored["_id"], "reason": "stop mailing"}, topic=LEADS_COMPLAINT.name)
    [letter] = harness.of(DEAD_LETTERS.name)
    assert letter["data"]["error_type"] == "no_phone"
    assert (await harness.http.get("/v1/do-not-call")).json()["items"] == []


def harness_delivery(harness: Harness, data: dict) -> Delivery:
    """A parsed delivery, to drive the service layer directly (batches, races)."""
    event = LEADS_RECEIVED.event_model.model_validate(
        {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/tests", "type": LEADS_RECEIVED.event_type,
         "tenantid": harness.tenant, "data": data})
    return Delivery(event=event, record=None)


async def test_a_lead_that_breaks_processing_is_dead_lettered_and_the_rest_go_on(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug triggered by one message must not block its partition: the batch is redone one by one
    and only the failing message goes to the dead-letter topic."""
    real_standardize = domain.standardize

    def standardize(lead_in, region):  # type: ignore[no-untyped-def]
        if lead_in.name == "poison":
            raise ValueError("cannot digest this lead")
        return real_standardize(lead_in, region)

    monkeypatch.setattr(domain, "standardize", standardize)

    def record(data: dict, offset: int) -> SimpleNamespace:
        envelope = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/tests", "tenantid": harness.tenant,
                    "type": LEADS_RECEIVED.event_type, "time": "2026-11-24T09:30:00+08:00", "data": data}
        return SimpleNamespace(value=json.dumps(envelope).encode(), topic=LEADS_RECEIVED.name, partition=0,
                               offset=offset, key=None, headers=[])

    batch = (record(lead(phone="13924681301", name="ok 1", email=None), 1),
             record(lead(phone="13924681302", name="poison", email=None), 2),
             record(lead(phone="13924681303", name="ok 2", email=None), 3))
    await consume_batch(LEADS_RECEIVED, batch, harness.intake.dead_letters, harness.intake.handle_received)

    assert sorted(d["name"] for d in await harness.leads()) == ["ok 1", "ok 2"]
    [letter] = harness.of(DEAD_LETTERS.name)
    assert letter["data"]["error_type"] == "processing_error" and letter["data"]["offset"] == 2
    assert "cannot digest this lead" in letter["data"]["error"]
