"""POST /v1/calls on the real broker: a call with a held lead is published once on calls.logged.v1 (a
retry answers the same event id and publishes nothing more); a lead the caller does not hold, or one the
allocator refuses to let it dial (resting, do-not-call), is refused and nothing is published."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

from console_support import Upstream, console_settings, dev_login, principal_of, running_console
from telesales_contracts.topics import CALLS_LOGGED
from telesales_testkit.kafka import TopicTail


def _call(call_id: str, lead_id: str = "L-1") -> dict[str, Any]:
    return {"call_id": call_id, "lead_id": lead_id, "started_at": "2026-11-24T09:30:00+08:00",
            "duration_seconds": 95, "connected": True}


async def test_a_retried_call_is_published_once(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    upstream.leads["L-1"] = {"lead_id": "L-1", "holder": "li-si"}
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        session = await dev_login(http, "li-si")
        csrf = {"X-CSRF-Token": session["csrf_token"]}
        call_id = f"call-{uuid.uuid4().hex[:8]}"
        async with TopicTail(infra.kafka_bootstrap, CALLS_LOGGED.name) as tail:
            first = await http.post("/v1/calls", json=_call(call_id), headers=csrf)
            assert first.status_code == 202, first.text
            event_id = first.json()["event_id"]
            asked = upstream.to("127.0.0.1:8102")[-1]
            assert (asked.method, asked.url.path) == ("POST", "/v1/leads/L-1/dial")  # may I dial it now?
            assert principal_of(asked.headers["authorization"]).sub == "li-si"  # the user's own token
            assert json.loads(asked.content) == {"check_only": True}  # logging a call binds no middle number
            retry = await http.post("/v1/calls", json=_call(call_id), headers=csrf)
            assert retry.status_code == 202 and retry.json() == {"event_id": event_id}

            event = await tail.wait_for(CALLS_LOGGED.name, lambda e: e["id"] == event_id)
            CALLS_LOGGED.parse(json.dumps(event))  # the contract holds
            assert event["tenantid"] == "default" and event["source"] == "/services/console"
            assert event["data"] == {"call_id": call_id, "agent_id": "li-si", "lead_id": "L-1",
                                          "started_at": "2026-11-24T09:30:00+08:00", "duration_seconds": 95,
                                          "connected": True, "stage_reached": None, "outcome": None}
            await asyncio.sleep(1.0)
            await tail.poll(500)
            assert [e["id"] for e in tail.events[CALLS_LOGGED.name]] == [event_id]

            another = await http.post("/v1/calls", json=_call(call_id + "-b"), headers=csrf)
            assert another.status_code == 202 and another.json()["event_id"] != event_id

            # where the call ended and whether it progressed reach the event (the marketplace's struggle push)
            ended = await http.post("/v1/calls", headers=csrf, json=_call(call_id + "-c") | {
                "stage_reached": "objection_handling", "outcome": "no_progress"})
            assert ended.status_code == 202, ended.text
            told = await tail.wait_for(CALLS_LOGGED.name, lambda e: e["id"] == ended.json()["event_id"])
            assert (told["data"]["stage_reached"], told["data"]["outcome"]) == ("objection_handling", "no_progress")
            wrong = await http.post("/v1/calls", headers=csrf, json=_call(call_id + "-d") | {"outcome": "so-so"})
            assert wrong.status_code == 422


async def test_a_lead_not_held_is_refused(infra: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    upstream.agent("li-si")
    upstream.leads["L-2"] = {"lead_id": "L-2", "holder": "wang-wu"}
    async with running_console(console_settings(infra, tmp_path), upstream) as http:
        session = await dev_login(http, "li-si")
        csrf = {"X-CSRF-Token": session["csrf_token"]}
        async with TopicTail(infra.kafka_bootstrap, CALLS_LOGGED.name) as tail:
            other = await http.post("/v1/calls", json=_call("c-1", "L-2"), headers=csrf)
            assert other.status_code == 403 and other.json()["code"] == "not_your_lead"
            unknown = await http.post("/v1/calls", json=_call("c-2", "L-404"), headers=csrf)
            assert unknown.status_code == 404 and unknown.json()["title"] == "Unknown lead"  # the allocator's own
            bad = await http.post("/v1/calls", json=_call("c-3") | {"duration_seconds": 86_401}, headers=csrf)
            assert bad.status_code == 422
            naive = await http.post("/v1/calls", json=_call("c-4") | {"started_at": "2026-11-24T09:30:00"},
                                    headers=csrf)
            assert naive.status_code == 422
            upstream.leads["L-3"] = {"lead_id": "L-3", "holder": "li-si", "dial": "resting",
                                     "rest_until": "2026-11-27T09:30:00+00:00"}
            resting = await http.post("/v1/calls", json=_call("c-5", "L-3"), headers=csrf)
            assert resting.status_code == 409, resting.text
            assert resting.json()["code"] == "dial_refused" and resting.json()["reason"] == "resting"
            assert resting.json()["rest_until"] == "2026-11-27T09:30:00+00:00"
            upstream.leads["L-4"] = {"lead_id": "L-4", "holder": "li-si", "dial": "do_not_call"}
            listed = await http.post("/v1/calls", json=_call("c-6", "L-4"), headers=csrf)
            assert listed.status_code == 409 and listed.json()["reason"] == "do_not_call"
            await asyncio.sleep(1.0)
            await tail.poll(500)
            assert tail.events[CALLS_LOGGED.name] == []
