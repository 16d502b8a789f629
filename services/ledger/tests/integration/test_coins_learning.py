"""不学回收 and 层层审批 on the real MongoDB with the real handlers: learning keeps coins and spending does
not; getting coins back needs the qualification (资格条件) and every level of the chain in order, and each
attempt to walk around it is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ledger_support import Harness, purchase

LEARN = "marketplace.learn-progressed.v1"


def learn_report(user: str, tip: str, seconds: int, at: datetime, *, learned: bool = False) -> dict[str, Any]:
    return {"user_id": user, "tip_id": tip, "session_id": f"s-{user}-{tip}", "progress_percent": 100 if learned else 50,
            "watched_seconds": seconds, "learned": learned, "rewatch": False, "rewatches": 0, "at": at.isoformat()}


async def opened_days_ago(harness: Harness, user: str, days: int) -> None:
    """The wallet opened `days` ago (rather than waiting: the wallet's clock is what the rule reads)."""
    await harness.store.accounts.update_one({"_id": f"{harness.tenant}|wallet:{user}"},
                                            {"$set": {"last_activity_at": datetime.now(UTC) - timedelta(days=days)}})


async def roster(harness: Harness) -> None:
    for agent_id, role, team in (("a1", "agent", "t1"), ("s1", "supervisor", "t1"), ("s2", "supervisor", "t2"),
                                 ("m1", "manager", None)):
        await harness.send("agents.changed.v1", {"agent_id": agent_id, "name": agent_id, "role": role,
                                                 "team_id": team})


async def test_a_holder_who_learns_keeps_coins_and_one_who_only_spends_loses_them(harness: Harness) -> None:
    await harness.set_policy(idle_days=30)
    await harness.give({"learner": 300, "spender": 300, "repeater": 300})
    for user in ("learner", "spender", "repeater"):
        await opened_days_ago(harness, user, 40)
    now = datetime.now(UTC)
    # the learner watched two minutes of a tip five days ago; the spender bought a tip today but learned nothing
    learned_id = await harness.send(LEARN, learn_report("learner", "tip-1", 120, now - timedelta(days=5)))
    await harness.send(LEARN, learn_report("learner", "tip-1", 120, now - timedelta(days=5)), event_id=learned_id)
    await harness.send("ledger.transfer-requested.v1", purchase("p-1", "spender", "seller", 10))
    # the repeater reports again, today, only what it had watched 35 days ago: no watch time added
    await harness.send(LEARN, learn_report("repeater", "tip-1", 60, now - timedelta(days=35)))
    await harness.send(LEARN, learn_report("repeater", "tip-1", 60, now))
    # a report that is no learning report at all is dead-lettered, and the rest goes on
    await harness.send(LEARN, {"user_id": "learner", "tip_id": "tip-1"})

    run = await harness.http.post("/v1/reclaims", headers=harness.operator)
    assert run.status_code == 200, run.text
    assert sorted((r["user_id"], r["amount"]) for r in run.json()["reclaimed"]) == [("repeater", 300),
                                                                                  ("spender", 290)]
    assert (await harness.balance("wallet:learner"), await harness.balance("wallet:spender")) == (300, 0)
    learner = await harness.store.learning.learners.find_one({"_id": f"{harness.tenant}|learner"})
    assert learner is not None and learner["seconds"] == 120  # the same event twice counted once
    [letter] = [d["data"] for d in harness.events["platform.dead-lettered.v1"] if d["data"]["original_topic"] == LEARN]
    assert letter["error_type"] == "schema_error"
    assert (await harness.audit())["ok"]


async def reclaimed_user(harness: Harness, **reallocation: Any) -> None:
    """a1 (team t1) had coins, learned nothing for 31 days and lost them."""
    await harness.set_policy(idle_days=30, reallocation=reallocation)
    await roster(harness)
    await harness.give({"a1": 200})
    await opened_days_ago(harness, "a1", 31)
    run = (await harness.http.post("/v1/reclaims", headers=harness.operator)).json()
    assert [r["user_id"] for r in run["reclaimed"]] == ["a1"]


async def test_an_unqualified_user_is_refused_until_the_learning_since_the_reclaim_is_done(harness: Harness) -> None:
    await reclaimed_user(harness, qualification={"min_learning_minutes": 20, "min_tips_learned": 1})
    agent = harness.as_("agent", "a1", team="t1")
    await harness.send(LEARN, learn_report("a1", "tip-1", 15 * 60, datetime.now(UTC), learned=True))
    refused = await harness.http.post("/v1/reallocation-requests", json={"user_id": "a1", "reason": "我想学习"},
                                      headers=agent)
    assert (refused.status_code, refused.json()["code"]) == (409, "not_qualified"), refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["unmet"] == [{"condition": "min_learning_minutes", "required": 20, "done": 15}]
    await harness.send(LEARN, learn_report("a1", "tip-1", 21 * 60, datetime.now(UTC), learned=True))
    made = await harness.http.post("/v1/reallocation-requests", json={"user_id": "a1", "reason": "我想学习"},
                                   headers=agent)
    assert made.status_code == 201, made.text
    assert (made.json()["levels"], made.json()["approvals"]) == (["supervisor", "manager"], [])


async def test_coins_come_back_only_after_the_supervisor_then_the_manager(harness: Harness) -> None:
    await reclaimed_user(harness, qualification={"min_learning_minutes": 1})
    await harness.issue(500)
    await harness.send(LEARN, learn_report("a1", "tip-1", 90, datetime.now(UTC)))
    made = await harness.http.post("/v1/reallocation-requests", json={"user_id": "a1", "reason": "复学"},
                                   headers=harness.as_("agent", "a1", team="t1"))
    assert made.status_code == 201, made.text
    rid = made.json()["request_id"]
    supervisor, other_supervisor = harness.as_("supervisor", "s1", team="t1"), harness.as_("supervisor", "s2", team="t2")
    manager, agent = harness.as_("supervisor", "m1"), harness.as_("agent", "a1", team="t1")
    approve = f"/v1/reallocation-requests/{rid}/approve"

    early = await harness.http.post(approve, json={"amount": 100}, headers=manager)
    assert (early.status_code, early.json()["code"], early.json()["waiting_for"]) == (409, "out_of_order", "supervisor")
    assert (await harness.http.post(approve, headers=agent)).status_code == 403  # agents approve nothing
    wrong_level = await harness.http.post(approve, headers=harness.operator)
    assert (wrong_level.status_code, wrong_level.json()["code"]) == (403, "not_an_approver")
    foreign = await harness.http.post(approve, headers=other_supervisor)
    assert (foreign.status_code, foreign.json()["code"]) == (403, "outside_your_team")

    first = await harness.http.post(approve, headers=supervisor)
    assert first.status_code == 200, first.text
    assert (first.json()["status"], [a["level"] for a in first.json()["approvals"]]) == ("pending", ["supervisor"])
    user = (await harness.http.get("/v1/users/a1")).json()
    assert (user["wallet"], user["allocation_blocked"]) == (0, True)  # the supervisor alone grants nothing
    assert (await harness.http.post("/v1/allocations", json={"id": "al-a1", "amount": 10, "user_ids": ["a1"]},
                                    headers=harness.operator)).json()["code"] == "reallocation_needs_approval"
    twice = await harness.http.post(approve, headers=supervisor)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_approved")

    last = await harness.http.post(approve, json={"amount": 100, "reason": "复学"}, headers=manager)
    assert last.status_code == 200, last.text
    assert (last.json()["status"], last.json()["decided_by"], last.json()["decided_level"]) == (
        "approved", "m1", "manager")
    user = (await harness.http.get("/v1/users/a1")).json()
    assert (user["wallet"], user["allocation_blocked"]) == (100, False)
    again = await harness.http.post(approve, json={"amount": 100, "reason": "复学"}, headers=manager)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    late = await harness.http.post(f"/v1/reallocation-requests/{rid}/reject", headers=supervisor)
    assert (late.status_code, late.json()["code"]) == (409, "request_decided")

    await harness.relay()
    awaiting = [(e["data"]["level"], e["data"]["approvers"]) for e in harness.of("ledger.reallocation-awaiting.v1")]
    assert awaiting == [("supervisor", ["s1"]), ("manager", ["m1"])]
    assert [e["data"]["decision"] for e in harness.of("ledger.reallocation-decided.v1")] == ["approved"]
    assert (await harness.audit())["ok"]


async def test_the_chain_is_the_tenants_and_the_turn_may_reject(harness: Harness) -> None:
    await reclaimed_user(harness, approval_levels=["manager"], qualification={"min_learning_minutes": 0})
    made = (await harness.http.post("/v1/reallocation-requests", json={"user_id": "a1", "reason": "again"},
                                    headers=harness.as_("agent", "a1", team="t1"))).json()
    assert made["levels"] == ["manager"]
    reject = f"/v1/reallocation-requests/{made['request_id']}/reject"
    not_in_chain = await harness.http.post(reject, headers=harness.as_("supervisor", "s1", team="t1"))
    assert (not_in_chain.status_code, not_in_chain.json()["code"]) == (403, "not_an_approver")
    rejected = await harness.http.post(reject, json={"reason": "先学"}, headers=harness.as_("supervisor", "m1"))
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert (await harness.http.get("/v1/users/a1")).json()["allocation_blocked"] is True
