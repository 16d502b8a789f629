"""HTTP API of lead-intake (ASGI in-process, real MongoDB, in-memory broker: a submission is processed
before the request returns, so its outcome can be checked at once)."""

from __future__ import annotations

import json

import pytest

from intake_support import Harness, lead

PROBLEM = "application/problem+json"


async def test_submit_then_follow_the_submission_to_the_stored_lead(harness: Harness) -> None:
    response = await harness.http.post("/v1/leads", json=lead())
    assert response.status_code == 202
    body = response.json()
    assert response.headers["location"] == body["status_url"] == f"/v1/submissions/{body['event_id']}"
    status = (await harness.http.get(body["status_url"])).json()
    assert status["status"] == "qualified"
    stored = (await harness.http.get(f"/v1/leads/{status['lead_id']}")).json()
    assert stored["phone_e164"] == "+8613924681357" and stored["grade"] == "A"
    assert stored["touches"][0]["event_id"] == body["event_id"]
    assert sum(c["points"] for c in stored["score_breakdown"]) >= stored["rule_score"]


async def test_unknown_submission_is_pending(harness: Harness) -> None:
    status = await harness.http.get("/v1/submissions/never-sent")
    assert status.status_code == 200 and status.json()["status"] == "pending"


async def test_idempotency_key_makes_retries_safe(harness: Harness) -> None:
    headers = {"Idempotency-Key": "order-7781"}
    first = (await harness.http.post("/v1/leads", json=lead(), headers=headers)).json()
    second = (await harness.http.post("/v1/leads", json=lead(), headers=headers)).json()
    assert first["event_id"] == second["event_id"]
    [stored] = await harness.leads()
    assert stored["touches_count"] == 1


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"phone": "13924681357", "$where": "1"}, "'$where': a name may not start with '$'"),
        ({"phone": "13924681357", "crm_id": [1]}, "external_id"),
        ({"phone": "1" * 41}, "phone"),
        ({"phone": "13924681357", "behaviour": {"logins_7d": -1}}, "logins_7d"),
    ],
)
async def test_bad_submissions_get_problem_json(harness: Harness, body: dict, fragment: str) -> None:
    response = await harness.http.post("/v1/leads", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Invalid request" and fragment in problem["detail"]


async def test_bad_tenant_header_is_refused(harness: Harness) -> None:
    response = await harness.http.post("/v1/leads", json=lead(), headers={"X-Tenant-Id": "Not A Tenant!"})
    assert response.status_code == 400 and response.headers["content-type"] == PROBLEM


async def test_csv_import_publishes_valid_rows_and_reports_bad_ones(harness: Harness) -> None:
    csv_text = (
        "name,phone,email,channel,business_line,logins_7d,unpaid_order,来源活动\n"
        "王芳,13924681360,wf@example.cn,百度,education,4,是,双十一\n"
        "赵磊,13924681361,,抖音,education,,,\n"
        "坏行,13924681362,,forum,education,many,,\n"
        "王芳又来,139-2468-1360,,微信,education,,,\n"
    )
    response = await harness.http.post("/v1/leads:import", content=csv_text.encode("gb18030"),
                                       headers={"Content-Type": "text/csv"})
    assert response.status_code == 202, response.text
    result = response.json()
    assert (result["rows"], result["accepted"], result["invalid"]) == (4, 3, 1)
    assert result["errors"][0]["row"] == 3 and "logins_7d" in result["errors"][0]["error"]
    leads = sorted(await harness.leads(), key=lambda d: d["phone_e164"])
    assert [d["phone_e164"] for d in leads] == ["+8613924681360", "+8613924681361"]
    assert leads[0]["touches_count"] == 2  # the repeat row merged
    assert leads[0]["attributes"] == {"来源活动": "双十一"}
    assert leads[0]["score_breakdown"][-1] == {"feature": "behaviour.unpaid_order", "value": "yes", "points": 15.0}


async def test_jsonl_import_and_its_errors(harness: Harness) -> None:
    lines = [json.dumps(lead(phone=f"1392468{1370 + i}", email=None)) for i in range(3)]
    lines.insert(1, "{not json")
    lines.append("[1, 2]")
    response = await harness.http.post("/v1/leads:import", content="\n".join(lines).encode(),
                                       headers={"Content-Type": "application/x-ndjson"})
    result = response.json()
    assert (result["rows"], result["accepted"], result["invalid"]) == (5, 3, 2)
    assert [e["row"] for e in result["errors"]] == [2, 5]
    assert len(await harness.leads()) == 3


async def test_import_refuses_wrong_type_too_many_rows_and_all_bad(harness: Harness) -> None:
    wrong = await harness.http.post("/v1/leads:import", content=b"x", headers={"Content-Type": "application/pdf"})
    assert wrong.status_code == 415 and wrong.headers["content-type"] == PROBLEM
    harness.intake.settings.import_max_rows = 2
    try:
        rows = "phone\n13924681380\n13924681381\n13924681382\n"
        too_many = await harness.http.post("/v1/leads:import", content=rows, headers={"Content-Type": "text/csv"})
        assert too_many.status_code == 413 and "at most 2 rows" in too_many.json()["detail"]
    finally:
        harness.intake.settings.import_max_rows = 100_000
    empty = await harness.http.post("/v1/leads:import", content=b"name,phone\n", headers={"Content-Type": "text/csv"})
    assert empty.status_code == 422 and empty.json()["title"] == "Empty import"
    all_bad = await harness.http.post("/v1/leads:import", content=b"[1]\n[2]\n",
                                      headers={"Content-Type": "application/x-ndjson"})
    assert all_bad.status_code == 422 and len(all_bad.json()["errors"]) == 2
    assert await harness.leads() == []


async def test_search_filters_and_pages(harness: Harness) -> None:
    for i in range(5):
        await harness.send(lead(phone=f"1392468{1390 + i}", email=None, channel="forum" if i % 2 else "inbound"))
    first = (await harness.http.get("/v1/leads", params={"limit": 2})).json()
    second = (await harness.http.get("/v1/leads", params={"limit": 2, "cursor": first["next_cursor"]})).json()
    third = (await harness.http.get("/v1/leads", params={"limit": 2, "cursor": second["next_cursor"]})).json()
    ids = [x["lead_id"] for page in (first, second, third) for x in page["items"]]
    assert len(ids) == len(set(ids)) == 5 and third["next_cursor"] is None
    forum = (await harness.http.get("/v1/leads", params={"channel": "forum"})).json()["items"]
    assert len(forum) == 2 and {x["channel"] for x in forum} == {"forum"}
    by_phone = (await harness.http.get("/v1/leads", params={"phone": "+86 139 2468 1392"})).json()["items"]
    assert [x["phone_e164"] for x in by_phone] == ["+8613924681392"]
    bad = await harness.http.get("/v1/leads", params={"grade": "Z"})
    assert bad.status_code == 422


async def test_do_not_call_list_lifecycle(harness: Harness) -> None:
    assert (await harness.http.get("/v1/do-not-call/13924681357")).status_code == 404
    put = await harness.http.put("/v1/do-not-call/+86%20139%202468%201357", json={"reason": "complaint"})
    assert put.status_code == 200 and put.json()["reason"] == "complaint"
    listed = (await harness.http.get("/v1/do-not-call")).json()
    assert [x["phone_masked"] for x in listed["items"]] == ["+86139****1357"]  # the list keeps no number
    assert (await harness.http.delete("/v1/do-not-call/13924681357")).status_code == 204
    assert (await harness.http.delete("/v1/do-not-call/13924681357")).status_code == 404
    # each change of the list is announced for the allocator, by the number's blind index; a DELETE of a number
    # not on the list announces nothing
    await harness.relay()
    changes = harness.of("leads.do-not-call.v1")
    bidx = harness.intake.store.sealing.phone_index(harness.tenant, "+8613924681357")
    assert [(c["data"]["phone_bidx"], c["data"]["phone_masked"], c["data"]["listed"], c["data"]["source"],
             c["data"]["reason"]) for c in changes] == [(bidx, "+86139****1357", True, "operator", "complaint"),
                                                        (bidx, "+86139****1357", False, "operator", None)]
    assert "2468" not in json.dumps(changes)
    invalid = await harness.http.put("/v1/do-not-call/12345")
    assert invalid.status_code == 422 and invalid.headers["content-type"] == PROBLEM


async def test_weights_are_versioned_and_change_scores(harness: Harness) -> None:
    current = await harness.http.get("/v1/scoring/weights")
    assert current.json()["version"] == 0 and current.headers["etag"] == '"0"'
    weights = current.json()["weights"]
    weights["channel"]["search_ads_seo"] = 0
    updated = await harness.http.put("/v1/scoring/weights", json=weights, headers={"If-Match": '"0"'})
    assert updated.status_code == 200 and updated.json()["version"] == 1
    stale = await harness.http.put("/v1/scoring/weights", json=weights, headers={"If-Match": '"0"'})
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    invalid = await harness.http.put("/v1/scoring/weights", json={"grades": {"A": 10, "B": 50, "C": 30}})
    assert invalid.status_code == 422

    await harness.send(lead())
    [stored] = await harness.leads()
    channel = next(c for c in stored["score_breakdown"] if c["feature"] == "channel")
    assert channel["points"] == 0


async def test_unknown_route_and_lead_are_problem_json(harness: Harness) -> None:
    missing = await harness.http.get("/v1/leads/nope")
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert missing.json()["detail"].startswith("No lead 'nope'")
    route = await harness.http.get("/v1/nothing-here")
    assert route.status_code == 404 and route.headers["content-type"] == PROBLEM


async def test_unreachable_dependencies_answer_503_problems(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiokafka.errors import KafkaConnectionError
    from pymongo.errors import ServerSelectionTimeoutError

    async def no_database(*args: object, **kwargs: object) -> None:
        raise ServerSelectionTimeoutError("no primary")

    async def no_broker(*args: object, **kwargs: object) -> None:
        raise KafkaConnectionError("broker down")

    monkeypatch.setattr(harness.intake.store, "get_lead", no_database)
    monkeypatch.setattr(harness.broker, "publish", no_broker)
    lookup = await harness.http.get("/v1/leads/any")
    assert lookup.status_code == 503 and lookup.json()["title"] == "Database unavailable"
    assert lookup.headers["retry-after"] == "5" and lookup.headers["content-type"] == PROBLEM
    submit = await harness.http.post("/v1/leads", json=lead())
    assert submit.status_code == 503 and submit.json()["title"] == "Broker unavailable"
