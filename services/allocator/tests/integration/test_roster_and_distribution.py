"""The roster (HTTP, CSV import, HR and dialer events), teams, push distribution (分配) by every strategy,
weekly grading, the fairness report and the configuration API, on the real MongoDB and Redis."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from allocator import grading
from allocator.domain import AllocationPolicy, default_tiers
from allocator_support import Harness

PROBLEM = "application/problem+json"


def local_midnight(harness: Harness) -> datetime:
    """Today 00:00 on the floor's clock."""
    now = datetime.now(UTC).astimezone(harness.leads.tz)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def import_csv(harness: Harness, body: bytes, content_type: str = "text/csv; charset=utf-8") -> httpx.Response:
    return await harness.http.post("/v1/agents:import", content=body, headers={"Content-Type": content_type})


async def team(harness: Harness, team_id: str = "t1", **fields: Any) -> dict[str, Any]:
    response = await harness.http.put(f"/v1/teams/{team_id}", json={"name": f"team {team_id}", **fields})
    assert response.status_code == 200, response.text
    return response.json()


async def lead(harness: Harness, score: int, **overrides: Any) -> str:
    [lead_id] = await harness.pooled(score=score, **overrides)
    return lead_id


async def distribute(harness: Harness, actor: str = "boss", **body: Any) -> httpx.Response:
    return await harness.http.post("/v1/distributions", json=body, headers=harness.as_actor(actor))


def placed(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {p["lead_id"]: p["agent_id"] for p in response.json()["placed"]}


def assigned_events(harness: Harness) -> dict[str, dict[str, Any]]:
    return {e["data"]["lead_id"]: e["data"] for e in harness.of("allocation.assigned.v1")}


async def floor(harness: Harness, *agents: str, team_id: str = "t1", strategy: str = "even_by_open",
                **team_fields: Any) -> None:
    """A supervisor `boss` of a team, the team and its agents, at work."""
    await harness.agent("boss", role="supervisor", team_id=team_id)
    await team(harness, team_id, strategy=strategy, **team_fields)
    for agent_id in agents:
        await harness.agent(agent_id, team_id=team_id)
    await harness.at_work(*agents)


# ---- roster over HTTP ---------------------------------------------------------------------------------


async def test_an_agent_is_created_read_and_overridden_over_http(harness: Harness) -> None:
    created = await harness.http.put("/v1/agents/a1", json={"name": "王芳", "team_id": "t1",
                                                           "business_line": "education", "supervisor_id": "boss"})
    assert created.status_code == 200, created.text
    assert created.json() == {
        "agent_id": "a1", "name": "王芳", "role": "agent", "team_id": "t1", "business_line": "education",
        "active": True, "supervisor_id": "boss", "grade": "C", "ability": 1.0, "status": None,
        "status_since": None, "worked_minutes_today": 0.0, "holding": 0}
    moved = await harness.http.put("/v1/agents/a1", json={"name": "王芳", "team_id": "t2"})
    assert moved.json()["team_id"] == "t2" and moved.json()["grade"] == "C"  # an update keeps the grade

    patched = await harness.http.patch("/v1/agents/a1", json={"grade": "A", "ability": 2.5})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["grade"], patched.json()["ability"]) == ("A", 2.5)
    read = (await harness.http.get("/v1/agents/a1")).json()
    assert (read["grade"], read["ability"], read["team_id"], read["holding"]) == ("A", 2.5, "t2", 0)

    for body in ({}, {"grade": "F"}, {"ability": 0}, {"ability": 101}, {"team_id": "t3"}):
        refused = await harness.http.patch("/v1/agents/a1", json=body)
        assert refused.status_code == 422, body
        assert refused.headers["content-type"] == PROBLEM
    unknown = await harness.http.patch("/v1/agents/nobody", json={"grade": "B"})
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    assert (await harness.http.get("/v1/agents/nobody")).status_code == 404
    bad = await harness.http.put("/v1/agents/a1", json={"name": "x", "role": "boss"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM


async def test_the_agent_list_pages_with_a_cursor_and_filters(harness: Harness) -> None:
    for agent_id in ("a5", "a3", "a1", "a4", "a2"):
        await harness.agent(agent_id, team_id="t2" if agent_id in ("a2", "a4") else "t1")
    await harness.agent("boss", role="supervisor", team_id=None)
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, "role": "agent"}
        if cursor:
            params["cursor"] = cursor
        page = (await harness.http.get("/v1/agents", params=params)).json()
        pages.append([item["agent_id"] for item in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["a1", "a2"], ["a3", "a4"], ["a5"]]
    everyone = (await harness.http.get("/v1/agents")).json()
    assert [a["agent_id"] for a in everyone["items"]] == ["a1", "a2", "a3", "a4", "a5", "boss"]
    assert everyone["next_cursor"] is None
    team_two = (await harness.http.get("/v1/agents", params={"team_id": "t2"})).json()
    assert [a["agent_id"] for a in team_two["items"]] == ["a2", "a4"]
    assert (await harness.http.get("/v1/agents", params={"limit": 0})).status_code == 422


# ---- CSV import ---------------------------------------------------------------------------------------


async def test_a_csv_import_takes_the_valid_rows_and_reports_the_invalid_ones_by_row(harness: Harness) -> None:
    await harness.agent("a1", team_id="t9")
    csv_text = ("agent_id,name,role,team_id,active\n"
                "a1,王芳,agent,t1,true\n"  # row 1: updates a1
                "bad id!,名字,agent,t1,true\n"  # row 2: invalid agent id
                "a3,,agent,t1,yes\n"  # row 3: no name
                "a4,李雷,boss,t1,\n"  # row 4: no such role
                "a1,again,agent,t1,true\n"  # row 5: a1 twice
                "s1,主管,supervisor,,是\n"  # row 6
                "a7,韩梅梅,agent,t1,no\n"  # row 7: inactive
                "a8,张三,agent,t1,maybe\n"  # row 8: not a yes or no: invalid, not silently inactive
                "a9,李四,agent,t1,否\n")  # row 9: inactive
    response = await import_csv(harness, csv_text.encode())
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["imported"], result["invalid"]) == (9, 4, 5)
    assert [e["row"] for e in result["errors"]] == [2, 3, 4, 5, 8]
    assert "name" in result["errors"][1]["error"]
    assert "role" in result["errors"][2]["error"]
    assert result["errors"][3]["error"] == "agent a1 appears twice"
    assert "active" in result["errors"][4]["error"]
    agents = {a["agent_id"]: a for a in (await harness.http.get("/v1/agents")).json()["items"]}
    assert sorted(agents) == ["a1", "a7", "a9", "s1"]
    assert (agents["a1"]["name"], agents["a1"]["team_id"]) == ("王芳", "t1")
    assert (agents["s1"]["role"], agents["s1"]["team_id"], agents["s1"]["active"]) == ("supervisor", None, True)
    assert (agents["a7"]["active"], agents["a9"]["active"]) == (False, False)


async def test_a_gb18030_csv_is_read_as_chinese_text(harness: Harness) -> None:
    body = "agent_id,name,business_line\ng1,张伟,教育\ng2,李娜,金融\n".encode("gb18030")
    try:
        body.decode("utf-8")
        raise AssertionError("the file must not also be valid UTF-8")
    except UnicodeDecodeError:
        pass
    response = await import_csv(harness, body, "text/csv")
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 2, "imported": 2, "invalid": 0, "errors": []}
    g1 = (await harness.http.get("/v1/agents/g1")).json()
    g2 = (await harness.http.get("/v1/agents/g2")).json()
    assert (g1["name"], g1["business_line"], g2["name"], g2["business_line"]) == ("张伟", "教育", "李娜", "金融")
    utf8_with_bom = "\ufeffagent_id,name\nu1,周杰\n".encode()
    assert (await import_csv(harness, utf8_with_bom)).json()["imported"] == 1
    assert (await harness.http.get("/v1/agents/u1")).json()["name"] == "周杰"


async def test_a_csv_import_refuses_unknown_columns_other_media_and_empty_files(harness: Harness) -> None:
    unknown = await import_csv(harness, b"agent_id,name,salary\na1,x,100\n")
    assert unknown.status_code == 400 and unknown.headers["content-type"] == PROBLEM
    assert "salary" in unknown.json()["detail"]
    no_name = await import_csv(harness, b"agent_id,team_id\na1,t1\n")
    assert no_name.status_code == 400 and no_name.headers["content-type"] == PROBLEM
    as_json = await import_csv(harness, b'[{"agent_id": "a1", "name": "x"}]', "application/json")
    assert as_json.status_code == 415 and as_json.headers["content-type"] == PROBLEM
    empty = await import_csv(harness, b"agent_id,name\n")
    assert empty.status_code == 422 and empty.headers["content-type"] == PROBLEM
    assert (await harness.http.get("/v1/agents")).json()["items"] == []


# ---- the HR system's and the dialer's events --------------------------------------------------------


def hr_record(agent_id: str, **fields: Any) -> dict[str, Any]:
    return {"agent_id": agent_id, "name": f"agent {agent_id}", "role": "agent", "team_id": "t1",
            "business_line": "education", "active": True, "supervisor_id": None} | fields


async def test_hr_events_create_and_update_agents_and_a_late_older_record_is_ignored(harness: Harness) -> None:
    await harness.send("agents.changed.v1", hr_record("h1", name="first"), time="2026-11-24T09:00:00+08:00")
    assert (await harness.http.get("/v1/agents/h1")).json()["name"] == "first"
    await harness.send("agents.changed.v1", hr_record("h1", name="newest", team_id="t2"),
                       time="2026-11-24T11:00:00+08:00")
    await harness.send("agents.changed.v1", hr_record("h1", name="older", team_id="t3"),
                       time="2026-11-24T10:00:00+08:00")
    h1 = (await harness.http.get("/v1/agents/h1")).json()
    assert (h1["name"], h1["team_id"], h1["active"]) == ("newest", "t2", True)


async def test_an_agent_who_leaves_gives_every_held_lead_back_but_a_stale_departure_does_not(
        harness: Harness) -> None:
    await harness.send("agents.changed.v1", hr_record("h1"), time="2026-11-24T11:00:00+08:00")
    first, second = await harness.pooled(2)
    assert (await harness.claim("h1", count=2)).json()["claimed"] == 2
    # a departure recorded before the newer record arrives late: ignored, the leads stay held
    await harness.send("agents.changed.v1", hr_record("h1", active=False), time="2026-11-24T10:00:00+08:00")
    h1 = (await harness.http.get("/v1/agents/h1")).json()
    assert (h1["active"], h1["holding"]) == (True, 2)
    assert {(await harness.lead(x))["status"] for x in (first, second)} == {"held"}

    await harness.send("agents.changed.v1", hr_record("h1", active=False), time="2026-11-24T12:00:00+08:00")
    h1 = (await harness.http.get("/v1/agents/h1")).json()
    assert (h1["active"], h1["holding"]) == (False, 0)
    for lead_id in (first, second):
        doc = await harness.lead(lead_id)
        assert (doc["status"], doc["holder"], doc["last_holder"], doc["drop_count"]) == ("pooled", None, "h1", 0)
    await harness.relay()
    returned = harness.of("allocation.returned.v1")
    assert sorted(e["data"]["lead_id"] for e in returned) == sorted([first, second])
    assert {(e["data"]["agent_id"], e["data"]["reason"], e["data"]["drop_count"], e["data"]["team_id"])
            for e in returned} == {("h1", "agent_left", 0, "t1")}


async def test_status_events_add_up_the_time_worked_today(harness: Harness) -> None:
    await harness.agent("a1")
    midnight = local_midnight(harness)

    async def status(value: str, minutes: int) -> None:
        at = midnight + timedelta(minutes=minutes)
        await harness.send("agents.status-changed.v1", {"agent_id": "a1", "status": value, "at": at.isoformat()})

    await status("logged_in", 10)
    await status("on_break", 40)  # 30 minutes
    await status("logged_in", 50)
    await status("logged_out", 80)  # 30 more
    a1 = (await harness.http.get("/v1/agents/a1")).json()
    assert (a1["status"], a1["worked_minutes_today"]) == ("logged_out", 60.0)
    assert datetime.fromisoformat(a1["status_since"]) == midnight + timedelta(minutes=80)
    await status("logged_in", 5)  # late and older than the status held: ignored
    a1 = (await harness.http.get("/v1/agents/a1")).json()
    assert (a1["status"], a1["worked_minutes_today"]) == ("logged_out", 60.0)


async def test_a_status_event_for_an_agent_not_on_the_roster_is_dead_lettered(harness: Harness) -> None:
    await harness.send("agents.status-changed.v1", {"agent_id": "ghost", "status": "logged_in",
                                                    "at": datetime.now(UTC).isoformat()})
    [letter] = harness.of("platform.dead-lettered.v1")
    assert letter["data"]["error_type"] == "unknown_agent"
    assert letter["data"]["original_topic"] == "agents.status-changed.v1"
    assert "ghost" in letter["data"]["error"]
    assert (await harness.http.get("/v1/agents/ghost")).status_code == 404


# ---- teams ---------------------------------------------------------------------------------------------


async def test_teams_are_created_read_listed_and_deleted(harness: Harness) -> None:
    created = await team(harness, "mba", business_line="education", supervisor_id="boss", strategy="round_robin",
                         ability_share=0.3, product_interests=["MBA"], regions=["广东"], priority=10)
    assert created == {"team_id": "mba", "name": "team mba", "business_line": "education", "supervisor_id": "boss",
                       "strategy": "round_robin", "ability_share": 0.3, "product_interests": ["MBA"],
                       "regions": ["广东"], "priority": 10, "round_robin_cursor": None}
    await team(harness, "cpa")
    updated = await team(harness, "mba", strategy="batch_average")
    assert (updated["strategy"], updated["priority"], updated["product_interests"]) == ("batch_average", 100, [])
    assert (await harness.http.get("/v1/teams/mba")).json() == updated
    listed = (await harness.http.get("/v1/teams")).json()
    assert [t["team_id"] for t in listed] == ["cpa", "mba"]
    bad = await harness.http.put("/v1/teams/x", json={"name": "x", "strategy": "lottery"})
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM
    deleted = await harness.http.delete("/v1/teams/mba")
    assert deleted.status_code == 204
    gone = await harness.http.get("/v1/teams/mba")
    assert gone.status_code == 404 and gone.headers["content-type"] == PROBLEM
    assert (await harness.http.delete("/v1/teams/mba")).status_code == 404
    assert [t["team_id"] for t in (await harness.http.get("/v1/teams")).json()] == ["cpa"]


# ---- push distribution ---------------------------------------------------------------------------------


async def test_only_supervisors_and_managers_distribute(harness: Harness) -> None:
    await floor(harness, "a1")
    await harness.agent("mgr", role="manager", team_id=None)
    [lead_id] = await harness.pooled()
    refused = await distribute(harness, "a1", lead_ids=[lead_id], team_id="t1")
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assert (await distribute(harness, "stranger", lead_ids=[lead_id], team_id="t1")).status_code == 403
    anonymous = await harness.http.post("/v1/distributions", json={"lead_ids": [lead_id], "team_id": "t1"},
                                        headers={"Authorization": ""})
    assert anonymous.status_code == 401
    assert (await harness.lead(lead_id))["status"] == "pooled"
    assert placed(await distribute(harness, "mgr", lead_ids=[lead_id], team_id="t1")) == {lead_id: "a1"}


async def test_the_supervisor_strategy_gives_leads_to_the_named_agent_up_to_its_cap(harness: Harness) -> None:
    await harness.http.put("/v1/config/policy", json={"holding_cap": 2})
    await floor(harness, "a1", "a2")
    await harness.agent("other", team_id="t2")
    await harness.at_work("other")
    high, mid, low = await lead(harness, 90), await lead(harness, 70), await lead(harness, 50)
    missing = await distribute(harness, lead_ids=[high], team_id="t1", strategy="supervisor")
    assert missing.status_code == 422 and missing.headers["content-type"] == PROBLEM
    assert missing.json()["code"] == "target_agent_required"
    response = await distribute(harness, lead_ids=[low, mid, high], team_id="t1", strategy="supervisor",
                                target_agent="a2")
    assert placed(response) == {high: "a2", mid: "a2"}
    assert response.json()["unplaced"] == [{"lead_id": low, "reason": "target_at_cap"}]
    assert {p["strategy"] for p in response.json()["placed"]} == {"supervisor"}
    outsider = await distribute(harness, lead_ids=[low], team_id="t1", strategy="supervisor", target_agent="other")
    assert (outsider.status_code, outsider.json()["code"]) == (403, "outside_your_team")  # boss leads t1 only
    elsewhere = await harness.http.post("/v1/distributions", json={  # admin: a target outside the named team
        "lead_ids": [low], "team_id": "t1", "strategy": "supervisor", "target_agent": "other"})
    assert elsewhere.json() == {"placed": [], "unplaced": [{"lead_id": low, "reason": "target_not_in_team"}]}
    assert (await harness.lead(high))["holder"] == "a2" and (await harness.lead(low))["status"] == "pooled"
    await harness.relay()
    events = assigned_events(harness)
    assert sorted(events) == sorted([high, mid])
    assert events[high] | {"at": None} == {
        "lead_id": high, "agent_id": "a2", "team_id": "t1", "agent_grade": "C", "business_line": "education",
        "pool_id": "education", "score": 90, "lead_grade": "B", "at": None, "strategy": "supervisor",
        "assigned_by": "boss"}


async def test_even_by_open_gives_each_lead_to_whoever_holds_fewest_and_respects_the_cap(harness: Harness) -> None:
    await harness.http.put("/v1/config/policy", json={"holding_cap": 2})
    await floor(harness, "a1", "a2", "a3")
    await harness.pooled()
    assert (await harness.claim("a1")).json()["claimed"] == 1  # a1 holds one already
    scores = (90, 80, 70, 60, 50, 40)
    ids = {score: await lead(harness, score) for score in scores}
    response = await distribute(harness, lead_ids=list(ids.values()), team_id="t1", strategy="even_by_open")
    assert placed(response) == {ids[90]: "a2", ids[80]: "a3", ids[70]: "a1", ids[60]: "a2", ids[50]: "a3"}
    assert response.json()["unplaced"] == [{"lead_id": ids[40], "reason": "no_eligible_agent"}]
    for agent_id in ("a1", "a2", "a3"):
        assert (await harness.http.get(f"/v1/agents/{agent_id}")).json()["holding"] == 2
    await harness.relay()
    events = assigned_events(harness)
    assert {lead_id: e["agent_id"] for lead_id, e in events.items()} == placed(response)
    assert {(e["strategy"], e["assigned_by"]) for e in events.values()} == {("even_by_open", "boss")}


async def test_a_lead_taken_while_a_distribution_writes_is_reported_and_the_others_placed(
        harness: Harness, monkeypatch: Any) -> None:
    """A distribution's placements are one conditional bulk write: a lead claimed between the decision and the
    write stays with its claimer, is reported `taken_meanwhile`, and the other leads are placed."""
    await floor(harness, "a1", "a2")
    await harness.agent("rival", team_id="t2")
    ids = [await lead(harness, score) for score in (90, 80, 70)]
    commit = harness.store.commit

    async def claimed_first(writes: Any, now: datetime, **kwargs: Any) -> int:
        await harness.store.leads.update_one({"_id": ids[1]}, {"$set": {"status": "held", "holder": "rival"}})
        return await commit(writes, now, **kwargs)
    monkeypatch.setattr(harness.store, "commit", claimed_first)
    response = await distribute(harness, lead_ids=ids, team_id="t1", strategy="even_by_open")
    assert set(placed(response)) == {ids[0], ids[2]}
    assert response.json()["unplaced"] == [{"lead_id": ids[1], "reason": "taken_meanwhile"}]
    assert (await harness.store.get_lead(harness.tenant, ids[1]))["holder"] == "rival"
    await harness.relay()
    assert set(assigned_events(harness)) == {ids[0], ids[2]}


async def test_batch_average_deals_the_batch_in_a_snake_order(harness: Harness) -> None:
    await floor(harness, "a1", "a2", "a3", strategy="batch_average")
    await harness.pooled()
    await harness.claim("a1")  # holding one: a1 is dealt last in the first round
    ids = {score: await lead(harness, score) for score in (90, 80, 70, 60, 50)}
    response = await distribute(harness, lead_ids=list(ids.values()), team_id="t1")
    assert placed(response) == {ids[90]: "a2", ids[80]: "a3", ids[70]: "a1", ids[60]: "a1", ids[50]: "a3"}
    assert response.json()["unplaced"] == []
    await harness.relay()
    assert {(e["strategy"], e["assigned_by"]) for e in assigned_events(harness).values()} \
        == {("batch_average", "boss")}


async def test_round_robin_takes_turns_and_remembers_whose_turn_it_is(harness: Harness) -> None:
    await floor(harness, "a1", "a2", "a3", strategy="round_robin")
    first = [await lead(harness, 90), await lead(harness, 80)]
    assert placed(await distribute(harness, lead_ids=first, team_id="t1")) == {first[0]: "a1", first[1]: "a2"}
    assert (await harness.http.get("/v1/teams/t1")).json()["round_robin_cursor"] == "a2"
    second = [await lead(harness, 95), await lead(harness, 85)]
    assert placed(await distribute(harness, lead_ids=second, team_id="t1")) == {second[0]: "a3", second[1]: "a1"}
    assert (await harness.http.get("/v1/teams/t1")).json()["round_robin_cursor"] == "a1"
    await harness.relay()
    events = assigned_events(harness)
    assert {lead_id: e["agent_id"] for lead_id, e in events.items()} == {
        first[0]: "a1", first[1]: "a2", second[0]: "a3", second[1]: "a1"}
    assert {(e["strategy"], e["assigned_by"]) for e in events.values()} == {("round_robin", "boss")}


async def test_ability_weighted_ignores_a_typed_in_ability(harness: Harness) -> None:
    # Ability is measured (conversion over a window: tests/integration/test_floor_runs_itself.py); two new
    # agents weigh the same floor, whatever ability was typed in for one of them.
    await floor(harness, "a1", "a2", strategy="ability_weighted", ability_share=0.5)
    assert (await harness.http.patch("/v1/agents/a1", json={"ability": 3})).status_code == 200
    ids = {score: await lead(harness, score) for score in (90, 80, 70, 60)}
    response = await distribute(harness, lead_ids=list(ids.values()), team_id="t1")
    assert sorted(placed(response).values()) == ["a1", "a1", "a2", "a2"]
    await harness.relay()
    assert {(e["strategy"], e["assigned_by"]) for e in assigned_events(harness).values()} \
        == {("ability_weighted", "boss")}


async def test_never_previous_never_sends_a_lead_back_to_an_agent_who_held_it(harness: Harness) -> None:
    await floor(harness, "a1", "a2")
    dropped = await lead(harness, 90)
    other = await lead(harness, 50)
    await harness.claim("a1")  # takes the best: `dropped`
    returned = await harness.http.post(f"/v1/leads/{dropped}/return", json={"agent_id": "a1", "reason": "不需要"},
                                       headers=harness.as_actor("a1"))
    assert returned.status_code == 200, returned.text
    await harness.claim("a2")  # takes `other`: a2 now holds more than a1
    assert (await harness.lead(other))["holder"] == "a2"
    fresh = await lead(harness, 40)
    response = await distribute(harness, lead_ids=[dropped, fresh], team_id="t1", strategy="never_previous")
    assert placed(response) == {dropped: "a2", fresh: "a1"}
    # once both have held it, nobody may have it
    again = await harness.http.post(f"/v1/leads/{dropped}/return", json={"agent_id": "a2", "reason": "空号"},
                                    headers=harness.as_actor("a2"))
    assert again.status_code == 200, again.text
    assert (await distribute(harness, lead_ids=[dropped], team_id="t1", strategy="never_previous")).json() \
        == {"placed": [], "unplaced": [{"lead_id": dropped, "reason": "no_eligible_agent"}]}
    await harness.relay()
    events = assigned_events(harness)
    assert {lead_id: (e["agent_id"], e["strategy"]) for lead_id, e in events.items()} == {
        dropped: ("a2", "never_previous"), fresh: ("a1", "never_previous")}


async def test_same_agent_sends_a_returned_lead_back_to_its_last_holder(harness: Harness) -> None:
    await floor(harness, "a1", "a2")
    back = await lead(harness, 90)
    await harness.claim("a2")
    returned = await harness.http.post(f"/v1/leads/{back}/return", json={"agent_id": "a2", "reason": "later"},
                                       headers=harness.as_actor("a2"))
    assert returned.status_code == 200, returned.text
    fresh = await lead(harness, 50)
    response = await distribute(harness, lead_ids=[fresh, back], team_id="t1", strategy="same_agent")
    assert placed(response) == {back: "a2", fresh: "a1"}
    # a lead nobody held before falls back to the fewest open leads, and says so
    assert {p["lead_id"]: p["strategy"] for p in response.json()["placed"]} == {back: "same_agent",
                                                                               fresh: "even_by_open"}
    await harness.relay()
    events = assigned_events(harness)
    assert (events[back]["agent_id"], events[back]["strategy"], events[back]["assigned_by"]) \
        == ("a2", "same_agent", "boss")
    assert (events[fresh]["agent_id"], events[fresh]["strategy"]) == ("a1", "even_by_open")


async def test_without_a_team_each_lead_goes_to_the_team_its_need_routes_to(harness: Harness) -> None:
    # Routed across business lines: a distributor of the whole floor (admin), not one team's supervisor.
    await team(harness, "mba", product_interests=["mba"], priority=10)
    await team(harness, "south", regions=["广东"], priority=20)
    await team(harness, "fin", business_line="finance", priority=30)
    await harness.agent("m1", team_id="mba")
    await harness.agent("s1", team_id="south")
    await harness.agent("f1", team_id="fin", business_line="finance")
    await harness.at_work("m1", "s1", "f1")
    mba = await lead(harness, 90, product_interest="MBA", region="北京市")
    south = await lead(harness, 80, product_interest="CPA", region="广东省深圳市")
    both = await lead(harness, 70, product_interest=" Mba ", region="广东省广州市")  # MBA's priority wins
    finance = await lead(harness, 60, business_line="finance", product_interest="基金", region="上海市")
    nowhere = await lead(harness, 50, product_interest="CPA", region="上海市")
    held = await lead(harness, 99, product_interest="MBA")
    await harness.claim("m1")  # takes `held`, the best
    response = await harness.http.post("/v1/distributions", json={
        "lead_ids": [mba, south, both, finance, nowhere, held, "no-such-lead"]})
    assert response.status_code == 200, response.text
    assert {p["lead_id"]: (p["team_id"], p["agent_id"]) for p in response.json()["placed"]} == {
        mba: ("mba", "m1"), both: ("mba", "m1"), south: ("south", "s1"), finance: ("fin", "f1")}
    assert sorted(response.json()["unplaced"], key=lambda u: u["lead_id"]) == sorted([
        {"lead_id": nowhere, "reason": "no_team"}, {"lead_id": held, "reason": "not_pooled (held)"},
        {"lead_id": "no-such-lead", "reason": "unknown_lead"}], key=lambda u: u["lead_id"])
    assert (await harness.lead(nowhere))["status"] == "pooled"
    assert (await harness.lead(held))["holder"] == "m1"
    await harness.relay()
    events = assigned_events(harness)
    assert {lead_id: (e["team_id"], e["agent_id"]) for lead_id, e in events.items()} == {
        mba: ("mba", "m1"), both: ("mba", "m1"), south: ("south", "s1"), finance: ("fin", "f1")}
    assert events[finance]["business_line"] == "finance"


# ---- weekly grading ------------------------------------------------------------------------------------


async def win(harness: Harness, agent_id: str, amount_fen: int) -> str:
    claimed = (await harness.claim(agent_id)).json()
    [held] = claimed["leads"]
    response = await harness.http.post(f"/v1/leads/{held['lead_id']}/win",
                                       json={"agent_id": agent_id, "amount_fen": amount_fen},
                                       headers=harness.as_actor(agent_id))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "won"
    # only confirmed wins count (tests/integration/test_wins.py walks around it): the supervisor confirms
    await harness.leads.confirm_win(tenant=harness.tenant, lead_id=held["lead_id"], supervisor="boss",
                                    order_ref=None, amount_fen=None)
    return held["lead_id"]


async def test_a_finished_week_is_graded_once_from_its_sales(harness: Harness) -> None:
    policy = {"a_top_n": 1, "a_min_sales_fen": None, "b_share": 0.25, "c_share": 0.25, "d_share": 0.25,
              "e_promote_share": 0}
    assert (await harness.http.put("/v1/config/grading", json=policy)).status_code == 200
    for agent_id in ("g1", "g2", "g3", "g4"):
        await harness.agent(agent_id)
    await harness.agent("g5", active=False)
    await harness.agent("boss", role="supervisor", team_id=None)
    await harness.pooled(5)
    past = [await win(harness, "g1", 500_000), await win(harness, "g2", 100_000), await win(harness, "g3", 20_000)]
    await win(harness, "g4", 900_000)  # this week: not part of the week graded
    now = datetime.now(UTC).astimezone(harness.leads.tz)
    week = grading.iso_week((now - timedelta(days=14)).date())
    start, _ = grading.week_bounds(week, harness.leads.tz)
    moved = await harness.store.leads.update_many({"tenant_id": harness.tenant, "_id": {"$in": past}},
                                                  {"$set": {"won_at": start + timedelta(days=2, hours=10),
                                                            "win_confirmed_at": start + timedelta(days=3)}})
    assert moved.modified_count == 3

    response = await harness.http.post(f"/v1/gradings/{week}")
    assert response.status_code == 200, response.text
    assert response.json() == {"week": week, "graded": True, "agents": 4,
                               "grades": {"A": 1, "B": 1, "C": 1, "D": 0, "E": 1}}
    grades = {a["agent_id"]: a["grade"] for a in (await harness.http.get("/v1/agents")).json()["items"]}
    assert grades == {"g1": "A", "g2": "B", "g3": "C", "g4": "E", "g5": "C", "boss": "C"}
    await harness.relay()
    graded = {e["data"]["agent_id"]: e for e in harness.of("agents.graded.v1")}
    assert sorted(graded) == ["g1", "g2", "g3", "g4"]
    assert graded["g1"]["data"] == {"agent_id": "g1", "week": week, "grade": "A", "previous_grade": "C", "rank": 1,
                                    "agents_ranked": 4, "sales_fen": 500_000, "deals": 1, "promoted_from_e": False,
                                    "team_id": "t1"}
    assert graded["g4"]["data"] | {"week": None} == {
        "agent_id": "g4", "week": None, "grade": "E", "previous_grade": "C", "rank": 4, "agents_ranked": 4,
        "sales_fen": 0, "deals": 0, "promoted_from_e": False, "team_id": "t1"}
    assert [graded[a]["data"]["rank"] for a in ("g2", "g3")] == [2, 3]
    assert graded["g2"]["subject"] == "g2"

    again = await harness.http.post(f"/v1/gradings/{week}")
    assert again.status_code == 200, again.text
    assert again.json()["graded"] is False
    await harness.relay()
    assert len(harness.of("agents.graded.v1")) == 4
    assert (await harness.http.get("/v1/agents/g4")).json()["grade"] == "E"


async def test_only_a_finished_well_formed_week_can_be_graded(harness: Harness) -> None:
    now = datetime.now(UTC).astimezone(harness.leads.tz)
    this_week = await harness.http.post(f"/v1/gradings/{grading.iso_week(now.date())}")
    assert this_week.status_code == 409 and this_week.headers["content-type"] == PROBLEM
    assert this_week.json()["code"] == "week_not_over"
    next_year = await harness.http.post(f"/v1/gradings/{grading.iso_week(now.date() + timedelta(days=365))}")
    assert next_year.status_code == 409
    for week in ("2026-47", "2026-W7", "last-week", "2025-W53"):
        refused = await harness.http.post(f"/v1/gradings/{week}")
        assert refused.status_code == 422, week
        assert refused.headers["content-type"] == PROBLEM
    assert await harness.store.gradings.count_documents({"tenant_id": harness.tenant}) == 0


# ---- the fairness report -------------------------------------------------------------------------------


async def test_the_fairness_report_compares_what_each_grade_received_and_won(harness: Harness) -> None:
    await floor(harness)
    await harness.agent("a1", grade="A")
    await harness.agent("a2", grade="C")
    await harness.at_work("a1", "a2")
    ids = {score: await lead(harness, score) for score in (90, 80, 60, 40)}
    assert (await harness.claim("a1", count=2)).json()["claimed"] == 2  # 90 and 80
    assert (await harness.claim("a2")).json()["claimed"] == 1  # 60
    assert placed(await distribute(harness, lead_ids=[ids[40]], team_id="t1", strategy="supervisor",
                                   target_agent="a2")) == {ids[40]: "a2"}
    won = await harness.http.post(f"/v1/leads/{ids[90]}/win", json={"agent_id": "a1", "amount_fen": 88_800},
                                  headers=harness.as_actor("a1"))
    assert won.status_code == 200, won.text
    report = await harness.http.get("/v1/reports/fairness")
    assert report.status_code == 200, report.text
    assert report.json()["rows"] == [
        {"agent_grade": "A", "agents": 1, "leads_received": 2, "leads_claimed": 2, "mean_score": 85.0,
         "conversions": 1, "conversion_rate": 0.5},
        {"agent_grade": "C", "agents": 1, "leads_received": 2, "leads_claimed": 1, "mean_score": 50.0,
         "conversions": 0, "conversion_rate": 0.0}]
    before = datetime.now(UTC) - timedelta(days=30)
    empty = await harness.http.get("/v1/reports/fairness", params={
        "since": before.isoformat(), "until": (before + timedelta(days=1)).isoformat()})
    assert empty.status_code == 200 and empty.json()["rows"] == []
    naive = await harness.http.get("/v1/reports/fairness", params={"since": "2026-11-24T00:00:00"})
    assert naive.status_code == 422 and naive.headers["content-type"] == PROBLEM
    backwards = await harness.http.get("/v1/reports/fairness", params={
        "since": "2026-11-24T00:00:00+08:00", "until": "2026-11-23T00:00:00+08:00"})
    assert backwards.status_code == 422 and backwards.headers["content-type"] == PROBLEM


# ---- configuration -------------------------------------------------------------------------------------


async def test_configuration_starts_at_the_defaults(harness: Harness) -> None:
    expected = {"policy": AllocationPolicy().model_dump(mode="json"),
                "tiers": [t.model_dump(mode="json") for t in default_tiers()],
                "routing": [],
                "grading": grading.GradingPolicy().model_dump(mode="json")}
    for kind, value in expected.items():
        response = await harness.http.get(f"/v1/config/{kind}")
        assert response.status_code == 200, response.text
        assert response.json() == {"version": 0, "value": value}
        assert response.headers["etag"] == '"0"'
    assert expected["policy"]["holding_cap"] == 200 and len(expected["tiers"]) == 5


async def test_configuration_changes_are_versioned_and_refuse_lost_updates(harness: Harness) -> None:
    first = await harness.http.put("/v1/config/policy", json={"holding_cap": 5}, headers={"If-Match": '"0"'})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and first.json()["value"]["holding_cap"] == 5
    assert first.headers["etag"] == '"1"'
    stale = await harness.http.put("/v1/config/policy", json={"holding_cap": 6}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412 and stale.headers["content-type"] == PROBLEM
    second = await harness.http.put("/v1/config/policy", json={"holding_cap": 7}, headers={"If-Match": "1"})
    assert second.status_code == 200 and second.json()["version"] == 2
    stale = await harness.http.put("/v1/config/policy", json={"holding_cap": 8}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    blind = await harness.http.put("/v1/config/policy", json={"holding_cap": 9})
    assert blind.status_code == 200 and blind.json()["version"] == 3
    bad_match = await harness.http.put("/v1/config/policy", json={"holding_cap": 1}, headers={"If-Match": "*x"})
    assert bad_match.status_code == 400 and bad_match.headers["content-type"] == PROBLEM
    read = await harness.http.get("/v1/config/policy")
    assert read.json()["version"] == 3 and read.json()["value"]["holding_cap"] == 9
    # the policy in force is the one stored
    await harness.agent("a1")
    await harness.pooled(12)
    assert (await harness.claim("a1", count=12)).json()["holding_cap"] == 9


async def test_invalid_configuration_is_refused_with_a_problem(harness: Harness) -> None:
    for kind, body in (("policy", {"holding_cap": 0}), ("policy", {"no_such_rule": 1}),
                       ("policy", {"reclaim_rules": [{"pool_id": "p1"}]}),
                       ("tiers", [{"tier_id": "x"}]),
                       ("routing", [{"pool_id": "p", "min_score": 90, "max_score": 10}]),
                       ("grading", {"b_share": 0.5, "c_share": 0.5, "d_share": 0.5}),
                       ("grading", {"a_top_n": -1})):
        response = await harness.http.put(f"/v1/config/{kind}", json=body)
        assert response.status_code == 422, (kind, body, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 422
    not_json = await harness.http.put("/v1/config/policy", content=b"holding_cap=5")
    assert not_json.status_code == 422 and not_json.headers["content-type"] == PROBLEM
    tiers = [{"tier_id": "fresh", "name": "one"}, {"tier_id": "fresh", "name": "two"}]
    duplicate = await harness.http.put("/v1/config/tiers", json=tiers)
    assert duplicate.status_code == 422 and duplicate.headers["content-type"] == PROBLEM
    assert duplicate.json()["detail"] == "tier ids must be unique"
    for response in (await harness.http.get("/v1/config/pools"), await harness.http.put("/v1/config/pools", json={})):
        assert response.status_code == 404 and response.headers["content-type"] == PROBLEM
    for kind in ("policy", "tiers", "routing", "grading"):
        assert (await harness.http.get(f"/v1/config/{kind}")).json()["version"] == 0


async def test_stored_tiers_routing_and_grading_are_read_back_and_used(harness: Harness) -> None:
    tiers = [{"tier_id": "all", "name": "everything"},
             {"tier_id": "top", "name": "the best", "filter": {"min_score": 85}, "grades": ["A"]}]
    stored = await harness.http.put("/v1/config/tiers", json=tiers)
    assert stored.status_code == 200, stored.text
    assert [t["tier_id"] for t in (await harness.http.get("/v1/config/tiers")).json()["value"]] == ["all", "top"]
    assert [t["tier_id"] for t in (await harness.http.get("/v1/tiers")).json()] == ["all", "top"]
    rules = [{"pool_id": "edu-mba", "product_interests": ["MBA"], "priority": 5}]
    assert (await harness.http.put("/v1/config/routing", json=rules)).status_code == 200
    routing = (await harness.http.get("/v1/config/routing")).json()
    assert routing["version"] == 1
    assert routing["value"] == [{"pool_id": "edu-mba", "business_line": None, "product_interests": ["MBA"],
                                 "region_prefixes": [], "min_score": 0, "max_score": 100, "priority": 5,
                                 "on_arrival": None}]
    [lead_id] = await harness.pooled(product_interest="MBA")
    assert (await harness.lead(lead_id))["pool_id"] == "edu-mba"
    policy = {"a_top_n": 3, "a_min_sales_fen": None}
    assert (await harness.http.put("/v1/config/grading", json=policy)).status_code == 200
    value = (await harness.http.get("/v1/config/grading")).json()["value"]
    assert (value["a_top_n"], value["a_min_sales_fen"], value["b_share"]) == (3, None, 0.2)
