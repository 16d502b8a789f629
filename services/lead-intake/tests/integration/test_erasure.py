"""Erasure requests on lead-intake (ASGI in-process, real MongoDB, in-memory broker): the lead and the answers
of rejected arrivals that quote the number are cleared in the request's transaction, and the event names
lead ids only."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from aiokafka import TopicPartition

from intake_support import Harness, lead
from lead_intake.erasure_store import ErasureRequests
from lead_intake.topic_erasure import TOPICS_KEEP_PERSONAL, GroupSightings, MongoCopyProgress, retention_preparer
from telesales_runtime.mongo import in_transaction

NUMBER = "+8613924681357"
AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


async def test_an_erasure_clears_the_lead_and_the_rejections_quoting_the_number(harness: Harness) -> None:
    # the person once arrived while the number was on the do-not-call list: rejected, the answer quotes it
    assert (await harness.http.put("/v1/do-not-call/13924681357", json={"reason": "asked"})).status_code == 200
    refused = (await harness.http.post("/v1/leads", json=lead())).json()
    rejection = (await harness.http.get(refused["status_url"])).json()
    assert rejection["status"] == "rejected" and NUMBER in json.dumps(rejection)
    assert (await harness.http.delete("/v1/do-not-call/13924681357")).status_code == 204
    sent = (await harness.http.post("/v1/leads", json=lead(email="li.lei@example.com"))).json()
    lead_id = (await harness.http.get(sent["status_url"])).json()["lead_id"]

    asked = await harness.http.post("/v1/erasures", headers=harness.as_("operator", "op-1"),
                                    json={"phone": "139 2468 1357", "reason": "ticket 7"})
    assert asked.status_code == 202, asked.text
    request = asked.json()
    assert request["lead_ids"] == [lead_id] and request["status"] == "pending" and request["note"] == "ticket 7"
    stored = (await harness.http.get(f"/v1/leads/{lead_id}")).json()
    assert stored["phone_e164"] is None and stored["name"] is None and stored["email"] is None
    rejection = (await harness.http.get(refused["status_url"])).json()
    assert rejection["status"] == "rejected" and NUMBER not in json.dumps(rejection)
    await harness.relay()
    [event] = [e for e in harness.of("privacy.erasure-requested.v1") if e["data"]["request_id"] == request["request_id"]]
    assert event["data"]["lead_ids"] == [lead_id] and NUMBER not in json.dumps(event)
    # the number is gone: asked again, nothing is found and nothing published
    again = (await harness.http.post("/v1/erasures", headers=harness.as_("operator", "op-1"),
                                     json={"phone": NUMBER})).json()
    # (a rejected arrival's number may still be on the topics: the topic step runs, then completes it)
    assert again["status"] == "nothing_found" and again["lead_ids"] == [] and again["topics"]["completed_at"] is None
    await harness.relay()
    assert [e for e in harness.of("privacy.erasure-requested.v1")
            if e["data"]["request_id"] == again["request_id"]] == []
    record = await harness.intake.store.db["erasure_requests"].find_one({"_id": request["request_id"]})
    assert NUMBER not in json.dumps(record, default=str) and "13924681357" not in json.dumps(record, default=str)


async def test_the_request_keeps_whom_to_look_for_on_the_topics_sealed_until_its_topic_step_is_done(
        harness: Harness) -> None:
    sent = (await harness.http.post("/v1/leads", json=lead(email="Zhang.Wei@Example.cn"))).json()
    lead_id = (await harness.http.get(sent["status_url"])).json()["lead_id"]
    asked = (await harness.http.post("/v1/erasures", headers=harness.as_("operator", "op-1"),
                                     json={"email": "zhang.wei@example.cn"})).json()
    assert asked["lead_ids"] == [lead_id] and asked["topics"]["completed_at"] is None
    requests = ErasureRequests(harness.intake.store, harness.intake.settings.erasure_services)
    stored = await requests.get(harness.tenant, asked["request_id"])
    for plain in ("13924681357", "2468", "张伟", "zhang.wei", "Zhang.Wei"):  # sealed, never readable
        assert plain not in json.dumps(stored, default=str, ensure_ascii=False), plain
    [step] = [p for p in await requests.pending_topic_steps() if p["_id"] == asked["request_id"]]
    # the lead's own number, name and email, found at request time (the request named only the email)
    assert step["needles"] == {"phones": [["86", "13924681357"]], "emails": ["zhang.wei@example.cn"], "names": ["张伟"]}
    assert step["services_done"] is False
    for service in harness.intake.settings.erasure_services:
        await requests.record_completion(tenant=harness.tenant, request_id=asked["request_id"], service=service,
                                         counts={}, source="/test")
    [step] = [p for p in await requests.pending_topic_steps() if p["_id"] == asked["request_id"]]
    assert step["services_done"] is True
    # every service answered, but the person may still be on a topic: not complete
    assert (await harness.http.get(f"/v1/erasures/{asked['request_id']}")).json()["status"] == "pending"
    await requests.record_topic_pass(asked["request_id"], {"partitions_truncated": 2, "records_removed": 9,
                                                           "dead_letters_kept": 1}, [])
    await requests.finish_topic_step(asked["request_id"])
    done = (await harness.http.get(f"/v1/erasures/{asked['request_id']}")).json()
    assert done["status"] == "complete" and done["topics"]["completed_at"] is not None
    assert {k: done["topics"][k] for k in ("partitions_truncated", "records_removed", "dead_letters_kept")} == {
        "partitions_truncated": 2, "records_removed": 9, "dead_letters_kept": 1}
    assert "topic_needles" not in await requests.get(harness.tenant, asked["request_id"])
    assert asked["request_id"] not in [p["_id"] for p in await requests.pending_topic_steps()]


async def test_a_retention_erasure_looks_on_the_topics_only_for_leads_they_may_still_hold(harness: Harness) -> None:
    """The allocator's retention sweep names leads only: lead-intake notes whom to look for before clearing them,
    for the leads changed more recently than any topic keeps personal data; older ones are on no topic."""
    ids = []
    for phone, email in (("139 2468 1001", "recent@example.cn"), ("139 2468 1002", "old@example.cn")):
        sent = (await harness.http.post("/v1/leads", json=lead(phone=phone, email=email))).json()
        ids.append((await harness.http.get(sent["status_url"])).json()["lead_id"])
    recent, old = ids
    leads = harness.intake.store.leads
    await leads.update_one({"_id": old}, {"$set": {"updated_at": datetime.now(UTC) - TOPICS_KEEP_PERSONAL
                                                   - timedelta(days=1)}})
    requests = ErasureRequests(harness.intake.store, harness.intake.settings.erasure_services)
    prepare = retention_preparer(requests)

    def event(lead_ids: list[str], reason: str = "retention") -> SimpleNamespace:
        data = SimpleNamespace(request_id=f"retention-{uuid.uuid4().hex}", lead_ids=lead_ids, reason=reason)
        return SimpleNamespace(data=data, source="/services/allocator")

    kept = event([recent, old])
    only_old, asked = event([old]), event([recent], reason="request")
    client = harness.intake.store.client
    for each in (kept, only_old, asked):
        await in_transaction(client, lambda session, each=each: prepare(harness.tenant, each, session))
    [step] = [p for p in await requests.pending_topic_steps() if p["_id"] == kept.data.request_id]
    # the old lead's number and email are not looked for
    assert step["needles"]["emails"] == ["recent@example.cn"] and step["needles"]["phones"] == [["86", "13924681001"]]
    record = await requests.get(harness.tenant, kept.data.request_id)
    assert record["reason"] == "retention" and record["requested_by"] == {"source": "/services/allocator"}
    assert await requests.get(harness.tenant, only_old.data.request_id) is None  # nothing to look for
    assert await requests.get(harness.tenant, asked.data.request_id) is None  # a person's request has its own


async def test_copy_progress_survives_the_process_and_only_moves_forward(harness: Harness) -> None:
    collection = harness.intake.store.db[f"topic_erasure_copies_{harness.tenant}"]
    tp = TopicPartition("platform.dead-lettered.v1", 2)
    assert await MongoCopyProgress(collection).copied_through(tp) == -1
    await MongoCopyProgress(collection).record(tp, 17)
    await MongoCopyProgress(collection).record(tp, 9)  # a late, older word changes nothing
    assert await MongoCopyProgress(collection).copied_through(tp) == 17  # another process reads it
    assert await MongoCopyProgress(collection).copied_through(TopicPartition(tp.topic, 3)) == -1
    await MongoCopyProgress(collection).forget(tp)
    assert await MongoCopyProgress(collection).copied_through(tp) == -1


async def test_group_sightings_are_kept_and_dropped_groups_forgotten(harness: Harness) -> None:
    collection = harness.intake.store.db[f"topic_erasure_groups_{harness.tenant}"]
    await GroupSightings(collection).save({"ledger": 100.0, "old": 50.0})
    restarted = GroupSightings(collection)
    assert await restarted.seen() == {"ledger": 100.0, "old": 50.0}
    await restarted.save({"ledger": 200.0})  # "old" is no longer listed by the broker
    assert await GroupSightings(collection).seen() == {"ledger": 200.0}


async def test_a_request_whose_needles_cannot_be_opened_waits_without_stopping_the_others(harness: Harness) -> None:
    requests = ErasureRequests(harness.intake.store, harness.intake.settings.erasure_services)
    broken = {"_id": f"erasure-broken-{harness.tenant}", "tenant_id": harness.tenant, "requested_at": AT,
              "topic_needles": "pii1.k-gone.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "completed_at": None}
    await requests.requests.insert_one(broken)
    asked = (await harness.http.post("/v1/erasures", headers=harness.as_("operator", "op-1"),
                                     json={"email": "nobody@example.cn"})).json()
    pending = [p["_id"] for p in await requests.pending_topic_steps()]
    assert asked["request_id"] in pending and broken["_id"] not in pending
    assert "topic_needles" in await requests.get(harness.tenant, broken["_id"])  # kept: it is still owed
