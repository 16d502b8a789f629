"""Erasure requests on lead-intake (ASGI in-process, real MongoDB, in-memory broker): the lead and the answers
of rejected arrivals that quote the number are cleared in the request's transaction, and the event names
lead ids only."""

from __future__ import annotations

import json

from intake_support import Harness, lead

NUMBER = "+8613924681357"


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
    assert again["status"] == "nothing_found" and again["lead_ids"] == [] and again["completed_at"]
    await harness.relay()
    assert [e for e in harness.of("privacy.erasure-requested.v1")
            if e["data"]["request_id"] == again["request_id"]] == []
    record = await harness.intake.store.db["erasure_requests"].find_one({"_id": request["request_id"]})
    assert NUMBER not in json.dumps(record, default=str) and "13924681357" not in json.dumps(record, default=str)
