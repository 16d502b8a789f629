"""Counting on the real MongoDB: an event is counted once however often it is delivered, a late event lands
in the day it happened, the figures survive a restart (a new application on the same database), poison
messages go to the dead-letter topic, and /metrics keeps its labels bounded."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from metrics.main import create_app
from metrics.settings import MetricsSettings
from metrics_support import DAY, Harness, agent, at, call, holder, qualified, stage


async def test_a_redelivered_event_is_counted_once(harness: Harness) -> None:
    event = call("L1", "a1", at(60), 90)
    await harness.emit(agent("a1", "mba"))
    event_id = str(uuid.uuid4())
    for _ in range(3):  # the same record again (a redelivery) or the same id republished
        await harness.send(*event, event_id=event_id)
    # a batch holding a repeat of itself and of what was counted before
    batch = [harness.delivery(event, event_id=event_id), harness.delivery(call("L1", "a1", at(70), 30), event_id="x"),
             harness.delivery(call("L1", "a1", at(70), 30), event_id="x")]
    assert await harness.metrics.handle(batch) == 1
    assert await harness.metrics.handle(batch) == 0  # the whole batch redelivered after a crash
    rows = (await harness.get("/v1/funnels/calls", **{"from": DAY, "to": DAY}))["rows"]
    assert (rows[0]["outbound"], rows[0]["effective"], rows[0]["talk_seconds"]) == (2, 1, 120)


async def test_a_late_event_lands_in_the_day_and_week_it_happened(harness: Harness) -> None:
    await harness.emit(qualified("L1", at(0)), qualified("L2", at(0)))
    await harness.emit(stage("L1", "intent", agent="a1"), time=at(60))
    # published today, happened last Sunday (another ISO week) and on the evening before (in Shanghai)
    await harness.emit(qualified("L0", "2026-11-22T20:00:00+08:00"))
    await harness.emit(stage("L2", "valid", agent="a1"), time="2026-11-23T15:59:00+00:00")
    await harness.emit(call("L2", "a1", "2026-11-23T16:01:00Z", 70))  # 00:01 on the 24th in Shanghai

    body = await harness.get("/v1/funnels/leads", **{"from": "2026-11-22", "to": DAY})
    days = {row["period"]: {s["step"]: s["count"] for s in row["steps"]} for row in body["rows"]}
    assert {day: (c["total"], c["valid"], c["intent"]) for day, c in days.items()} == {
        "2026-11-22": (1, 0, 0), "2026-11-23": (0, 1, 0), DAY: (2, 1, 1)}
    weeks = await harness.get("/v1/funnels/leads", **{"from": "2026-11-22", "to": DAY, "period": "week"})
    assert {r["period"]: r["steps"][0]["count"] for r in weeks["rows"]} == {"2026-W47": 1, "2026-W48": 2}
    calls = (await harness.get("/v1/funnels/calls", **{"from": "2026-11-23", "to": DAY}))["rows"]
    assert [(r["period"], r["outbound"]) for r in calls] == [(DAY, 1)]


async def test_the_figures_survive_a_restart(harness: Harness, metrics_settings: MetricsSettings) -> None:
    await harness.emit(agent("a1", "mba"), qualified("L1", at(0)), holder("assigned", "L1", "a1", at(10)),
                       call("L1", "a1", at(20), 200))
    await harness.emit(stage("L1", "plan", agent="a1"), time=at(30))
    before = await harness.funnel()
    indicators = await harness.get("/v1/agents/a1/indicators", **{"from": DAY, "to": DAY})
    scraped = await harness.scrape()

    restarted = create_app(metrics_settings)  # a new process would build the same: same database, fresh memory
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=restarted), base_url="http://metrics",
                                 headers=harness.as_("operator", "ops-1")) as http:
        funnel = (await http.get("/v1/funnels/leads", params={"from": DAY, "to": DAY})).json()["rows"][0]["steps"]
        assert {s["step"]: s["count"] for s in funnel} == before[""]
        assert (await http.get("/v1/agents/a1/indicators", params={"from": DAY, "to": DAY})).json() == indicators
        await harness.application.state.consumer.lease.release()  # the old process is gone
        assert await restarted.state.consumer.lease.hold()  # so the new one exposes the floor's figures
        await restarted.state.exposition.refresh()
        text = (await http.get("/metrics")).text
        await restarted.state.consumer.lease.release()
    samples = {s.name + json.dumps(s.labels, sort_keys=True): s.value for f in text_string_to_metric_families(text)
               for s in f.samples if s.labels.get("tenant") == harness.tenant}
    assert samples["telesales_funnel_leads_by_team_total" + json.dumps(
        {"step": "plan", "team": "mba", "tenant": harness.tenant}, sort_keys=True)] == 1
    assert scraped["telesales_funnel_leads_by_team_total{step=plan,team=mba}"] == 1
    # and counting goes on from there: the restarted service counts the next event once
    restarted_metrics = restarted.state.metrics
    assert await restarted_metrics.handle([harness.delivery(stage("L1", "paid", agent="a1"), time=at(40))]) == 1
    assert (await harness.funnel())[""]["paid"] == 1
    await restarted.state.store.client.close()


async def test_poison_messages_go_to_the_dead_letter_topic(harness: Harness) -> None:
    await harness.deliver("calls.logged.v1", b"not json")
    await harness.send("calls.logged.v1", {"agent_id": "a1", "lead_id": "L1"})  # breaks the contract
    await harness.emit(call("L1", "a1", at(0), 70))
    letters = [e for e in harness.events["platform.dead-lettered.v1"]
               if e["data"]["original_topic"] == "calls.logged.v1" and e["data"]["service"] == "metrics"]
    assert {e["data"]["error_type"] for e in letters} >= {"json_error", "schema_error"}
    rows = (await harness.get("/v1/funnels/calls", **{"from": DAY, "to": DAY}))["rows"]
    assert rows[0]["outbound"] == 1


async def test_an_event_typed_in_another_spelling_of_its_topics_type_is_counted(harness: Harness) -> None:
    await harness.emit(agent("a1", "mba"))
    await harness.send(*call("L1", "a1", at(0), 70), event_type="calls.logged.v1")
    await harness.send(*call("L2", "a1", at(1), 200), event_type="CallsLogged")
    await harness.send(*call("L3", "a1", at(2), 200), event_type="leads.qualified.v1")  # another kind: refused
    rows = (await harness.get("/v1/funnels/calls", **{"from": DAY, "to": DAY}))["rows"]
    assert (rows[0]["outbound"], rows[0]["deep"]) == (2, 1)
    [letter] = [e["data"] for e in harness.of("platform.dead-lettered.v1") if e["data"]["service"] == "metrics"]
    assert "'leads.qualified.v1'" in letter["error"] and "'telesales.calls.logged.v1'" in letter["error"]


async def test_a_binary_mode_event_is_counted_as_its_structured_equivalent(harness: Harness) -> None:
    """Attributes in ce_ headers, the data as the value (the CloudEvents Kafka binding's binary mode): the fast
    path leaves the record to the contract, which reads it whole."""
    await harness.emit(agent("a1", "mba"))
    topic, data = call("L1", "a1", at(0), 200)
    event_id = str(uuid.uuid4())
    headers = (("ce_specversion", b"1.0"), ("ce_id", event_id.encode()), ("ce_source", b"/dialer"),
               ("ce_type", b"telesales.calls.logged.v1"), ("ce_tenantid", harness.tenant.encode()),
               ("content-type", b"application/json"))
    for _ in range(2):  # and a redelivery counts once
        await harness.deliver(topic, json.dumps(data).encode(), headers=headers)
    await harness.deliver(topic, json.dumps(data).encode(), headers=headers[1:])  # no specversion: refused
    rows = (await harness.get("/v1/funnels/calls", **{"from": DAY, "to": DAY}))["rows"]
    assert (rows[0]["outbound"], rows[0]["deep"]) == (1, 1)
    [letter] = [e["data"] for e in harness.of("platform.dead-lettered.v1") if e["data"]["service"] == "metrics"]
    assert letter["error"] == "specversion: Field required" and letter["headers"]["ce_id"]


async def test_metrics_labels_stay_bounded(harness: Harness) -> None:
    gate = harness.exposition.gate
    cap = gate.caps["team"]
    teams = [f"team-{n:03d}" for n in range(cap + 5)]
    await harness.emit(*(agent(f"a{n}", team) for n, team in enumerate(teams)))
    await harness.emit(*(call(f"L{n}", f"a{n}", at(n), 70) for n in range(len(teams))))
    samples = await harness.scrape()
    exposed = {name.split("team=")[1].rstrip("}") for name in samples if name.startswith("telesales_calls_total{")}
    assert len(exposed) == cap + 1 and "other" in exposed
    assert samples["telesales_calls_total{team=other}"] == 5
    assert sum(v for k, v in samples.items() if k.startswith("telesales_calls_total{")) == len(teams)
    # admitted for good: a later scrape keeps the same values
    assert {name for name in await harness.scrape() if name.startswith("telesales_calls_total{")} == {
        name for name in samples if name.startswith("telesales_calls_total{")}


async def test_bad_ranges_are_problems(harness: Harness) -> None:
    reversed_range = await harness.http.get("/v1/funnels/leads", params={"from": DAY, "to": "2026-11-01"})
    assert reversed_range.status_code == 422 and reversed_range.json()["code"] == "bad_range"
    too_long = await harness.http.get("/v1/funnels/pool", params={"from": "2020-01-01", "to": DAY})
    assert too_long.status_code == 422 and too_long.json()["code"] == "range_too_long"
    grouping = await harness.http.get("/v1/funnels/calls", params={"by": "channel"})
    assert grouping.status_code == 422 and grouping.headers["content-type"].startswith("application/problem+json")


async def test_metrics_is_built_again_only_when_a_checkpoint_was_written(harness: Harness,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    exposition = harness.exposition
    await harness.emit(agent("a1", "mba"), call("L1", "a1", at(10), 70))
    await exposition.refresh()
    reads: list[str] = []
    read_counters = harness.store.counter_docs_of_period

    async def counted(period: str) -> list[dict[str, Any]]:
        reads.append(period)
        return await read_counters(period)

    monkeypatch.setattr(harness.store, "counter_docs_of_period", counted)
    built_at = exposition.replica.refreshed_at
    await exposition.tick()  # nothing counted since: the snapshot is found current, not read again
    assert reads == [] and exposition.replica.refreshed_at is not None and built_at is not None
    assert exposition.replica.refreshed_at > built_at

    await harness.emit(call("L1", "a1", at(20), 70))
    await exposition.tick()
    assert len(reads) == 2  # all time and today
    assert await harness.application.state.consumer.lease.hold()
    text = (await harness.http.get("/metrics")).text  # as served: the tick's build, no refresh of its own
    assert sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "telesales_calls_total" and s.labels.get("tenant") == harness.tenant) == 2

    reads.clear()
    assert exposition._built is not None
    exposition._built = (exposition._built[0], exposition._built[1] - exposition.settings.rebuild_seconds)
    await exposition.tick()  # nothing counted, but the last build is rebuild_seconds old
    assert len(reads) == 2
