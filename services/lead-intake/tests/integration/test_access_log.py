"""Who saw which lead in full in lead-intake (only admin and service tokens do): each such answer is logged
once, naming every lead it showed; masked answers are not; operators and auditors read the log, supervisors
do not, nobody edits it."""

from __future__ import annotations

from typing import Any

from intake_support import Harness, lead


async def records(harness: Harness, **query: str) -> list[dict[str, Any]]:
    response = await harness.http.get("/v1/access-log", params=query, headers=harness.as_("auditor", "audit-1"))
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_full_answers_are_logged_once_each_and_masked_ones_not(harness: Harness) -> None:
    for i in range(3):
        await harness.send(lead(phone=f"1392468{1400 + i}", email=None))
    ids = [d["_id"] for d in await harness.leads()]
    dialer = harness.as_("service", "dialer-1")
    page = await harness.http.get("/v1/leads", headers=dialer)
    assert page.status_code == 200 and not any(i["masked"] for i in page.json()["items"])
    one = await harness.http.get(f"/v1/leads/{ids[0]}", headers=dialer)
    assert one.json()["phone_e164"].startswith("+86")
    masked = await harness.http.get(f"/v1/leads/{ids[0]}", headers=harness.as_("supervisor", "sup-1", team="t1"))
    assert masked.json()["masked"]
    assert await harness.http.get("/v1/leads", headers=harness.as_("operator", "ops-1")) is not None
    [single, listed] = await records(harness, user="dialer-1")
    assert (single["route"], single["lead_ids"], single["reason"]) == ("/v1/leads/{lead_id}", [ids[0]], "service")
    assert listed["route"] == "/v1/leads" and sorted(listed["lead_ids"]) == sorted(ids)
    assert await records(harness, user="sup-1") == [] and await records(harness, user="ops-1") == []
    assert len(await records(harness, lead_id=ids[1])) == 1


async def test_only_operators_and_auditors_read_the_log_and_no_route_edits_it(harness: Harness) -> None:
    for role in ("agent", "supervisor", "service"):
        refused = await harness.http.get("/v1/access-log", headers=harness.as_(role, f"x-{role}", team="t1"))
        assert refused.status_code == 403, role
    assert (await harness.http.get("/v1/access-log", headers=harness.as_("operator", "ops-1"))).status_code == 200
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        edit = await harness.http.request(method, "/v1/access-log")
        assert edit.status_code in (404, 405), (method, edit.status_code)
