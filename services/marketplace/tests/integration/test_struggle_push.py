"""The struggle push by itself, on the real MongoDB with the handlers fed by the broker: calls that end at an
objection without progress (calls.logged.v1, as a dialer or the console publishes them) push the best-rated
objection-handling tip the agent neither owns nor wrote, once per call event, at most PUSH_DAILY_CAP (3) a
day and never the same tip twice in a row; nobody calls the marketplace's API. The rolling window's job over
the real metrics service is in tests/test_struggle_push_e2e.py at the top level."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from marketplace_support import Harness

STRUGGLE = "marketplace.struggle-recommended.v1"


def call(agent: str, *, stage: str | None = "objection_handling", outcome: str | None = "no_progress") -> dict[str, Any]:
    data = {"call_id": uuid.uuid4().hex[:12], "agent_id": agent, "lead_id": f"L-{uuid.uuid4().hex[:8]}",
            "started_at": datetime.now(UTC).isoformat(), "duration_seconds": 95, "connected": True}
    return data | {k: v for k, v in (("stage_reached", stage), ("outcome", outcome)) if v is not None}


async def rated(harness: Harness, title: str, stars: int, *, stage: str = "objection_handling",
                author: str = "zhang-san") -> str:
    tip_id = await harness.listed(author, stage=stage, title=title)
    await harness.bought(tip_id, "rater")
    response = await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": stars},
                                       headers=harness.as_user("rater"))
    assert response.status_code == 201, response.text
    return tip_id


async def test_a_call_ending_at_an_objection_pushes_the_best_tip_not_owned(harness: Harness) -> None:
    best = await rated(harness, "嫌贵", 5)
    second = await rated(harness, "再考虑", 4)
    await rated(harness, "促成", 5, stage="closing")
    await harness.listed("li-si", stage="objection_handling", title="自己写的")  # unrated: last anyway
    await harness.bought(best, "li-si")  # the agent owns the best one

    event_id = await harness.send("calls.logged.v1", call("li-si"), key=b"L1")
    await harness.relay()
    [pushed] = harness.of(STRUGGLE)
    data = pushed["data"]
    assert (data["agent_id"], data["trigger"], data["trigger_id"], data["stage"]) == (
        "li-si", "call", event_id, "objection_handling")
    assert (data["step"], data["agent_rate"]) == (None, None)
    assert [t["tip_id"] for t in data["tips"]] == [second]
    assert pushed["subject"] == "li-si"

    # the same call event again (a redelivery) pushes nothing more
    await harness.send("calls.logged.v1", call("li-si"), event_id=event_id, key=b"L1")
    # calls that progressed, or that do not say where they ended, push nothing
    await harness.send("calls.logged.v1", call("li-si", outcome="progressed"), key=b"L2")
    await harness.send("calls.logged.v1", call("li-si", stage=None, outcome=None), key=b"L3")
    await harness.send("calls.logged.v1", call("li-si", stage="quoting"), key=b"L4")  # not a pushing stage
    await harness.relay()
    assert len(harness.of(STRUGGLE)) == 1

    latest = (await harness.http.get("/v1/agents/li-si/recommendations/latest")).json()
    assert (latest["trigger"], latest["recommendation_id"]) == ("call", data["recommendation_id"])


async def test_many_stalled_calls_push_at_most_the_daily_cap_and_never_an_owned_tip(harness: Harness) -> None:
    tips = [await rated(harness, f"异议{n}", stars) for n, stars in enumerate((5, 5, 4, 3, 2, 1))]
    owned = tips[1]
    await harness.bought(owned, "wang-wu")

    for n in range(12):
        await harness.send("calls.logged.v1", call("wang-wu"), key=f"L{n}".encode())
    await harness.relay()
    pushed = [e["data"] for e in harness.of(STRUGGLE)]
    assert len(pushed) == 3  # PUSH_DAILY_CAP
    given = [d["tips"][0]["tip_id"] for d in pushed]
    assert owned not in given
    assert given == [tips[0], tips[2], tips[3]]  # best first, none twice: recently recommended is skipped

    # another agent has its own cap; the first one's stays spent
    await harness.send("calls.logged.v1", call("zhao-liu"), key=b"L99")
    await harness.send("calls.logged.v1", call("wang-wu"), key=b"L98")
    await harness.relay()
    later = [e["data"] for e in harness.of(STRUGGLE)][3:]
    assert [d["agent_id"] for d in later] == ["zhao-liu"]
    # for zhao-liu the tip wang-wu owns is pushable: as well rated as the first, and sold once more (the tie rule)
    assert later[0]["tips"][0]["tip_id"] == owned


async def test_no_push_when_every_tip_of_the_stage_is_owned_or_written(harness: Harness) -> None:
    mine = await harness.listed("sun-qi", stage="objection_handling", title="自己写的")
    bought = await rated(harness, "买过的", 5)
    await harness.bought(bought, "sun-qi")
    await harness.send("calls.logged.v1", call("sun-qi"), key=b"L1")
    await harness.relay()
    assert harness.of(STRUGGLE) == []
    assert mine != bought
