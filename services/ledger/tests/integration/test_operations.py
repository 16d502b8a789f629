"""Operations on the real MongoDB: allocation one by one and by role and grade from the roster events
(配置), idle reclaim (回收) and the approval to get coins again, redemption at 100 coins = 1 yuan, the
blind box and its replay from the seed, statements with pagination, filters and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from ledger import domain
from ledger_support import Harness, purchase


async def roster(harness: Harness) -> None:
    """Two agents graded A and C, one agent never graded, a supervisor, a manager, one who left."""
    people = [("a1", "agent"), ("a2", "agent"), ("a3", "agent"), ("s1", "supervisor"), ("m1", "manager"),
              ("gone", "agent")]
    for agent_id, role in people:
        await harness.send("agents.changed.v1", {"agent_id": agent_id, "name": f"name {agent_id}", "role": role,
                                                 "team_id": "t1" if agent_id != "a2" else "t2",
                                                 "active": agent_id != "gone"})
    # an old record arriving late changes nothing
    await harness.send("agents.changed.v1", {"agent_id": "a1", "name": "old", "role": "manager"},
                       time="2020-01-01T00:00:00+08:00")
    for agent_id, grade, week in (("a1", "A", "2026-W46"), ("a2", "C", "2026-W46"), ("a1", "B", "2026-W45")):
        await harness.send("agents.graded.v1", {"agent_id": agent_id, "week": week, "grade": grade,
                                                "previous_grade": None, "rank": 1, "agents_ranked": 3,
                                                "sales_fen": 0, "deals": 0})


async def test_allocation_by_role_and_grade_from_the_roster(harness: Harness) -> None:
    await roster(harness)
    a1 = (await harness.http.get("/v1/users/a1")).json()
    assert (a1["name"], a1["role"], a1["grade"], a1["on_roster"]) == ("name a1", "agent", "A", True)
    await harness.issue(10_000)

    agents = await harness.http.post("/v1/allocations", json={"id": "al-1", "amount": 100}, headers=harness.operator)
    assert agents.status_code == 201, agents.text
    assert sorted(a["user_id"] for a in agents.json()["allocated"]) == ["a1", "a2", "a3"]  # active agents only
    graded = await harness.http.post("/v1/allocations", json={"id": "al-2", "amount": 50, "grades": ["A", "B"]},
                                     headers=harness.operator)
    assert [a["user_id"] for a in graded.json()["allocated"]] == ["a1"]
    leaders = await harness.http.post("/v1/allocations", json={"id": "al-3", "amount": 200,
                                                               "roles": ["supervisor", "manager"]}, headers=harness.operator)
    assert sorted(a["user_id"] for a in leaders.json()["allocated"]) == ["m1", "s1"]
    team = await harness.http.post("/v1/allocations", json={"id": "al-4", "amount": 7, "team_id": "t2"},
                                   headers=harness.operator)
    assert [a["user_id"] for a in team.json()["allocated"]] == ["a2"]
    named = await harness.http.post("/v1/allocations", json={"id": "al-5", "amount": 5, "user_ids": ["x9", "a1"]},
                                    headers=harness.operator)
    assert [a["user_id"] for a in named.json()["allocated"]] == ["x9", "a1"]  # not on the roster: fine by name
    assert {u: await harness.balance(f"wallet:{u}") for u in ("a1", "a2", "a3", "s1", "m1", "x9", "gone")} == {
        "a1": 155, "a2": 107, "a3": 100, "s1": 200, "m1": 200, "x9": 5, "gone": 0}
    assert await harness.balance("budget") == 10_000 - 300 - 50 - 400 - 7 - 10

    again = await harness.http.post("/v1/allocations", json={"id": "al-1", "amount": 100}, headers=harness.operator)
    assert again.status_code == 200 and again.json() == agents.json()
    clash = await harness.http.post("/v1/allocations", json={"id": "al-1", "amount": 101}, headers=harness.operator)
    assert (clash.status_code, clash.json()["code"]) == (409, "operation_id_conflict")
    broke = await harness.http.post("/v1/allocations", json={"id": "al-6", "amount": 5000, "roles": ["agent"]},
                                    headers=harness.operator)
    assert (broke.status_code, broke.json()["code"]) == (409, "insufficient_funds")  # all or none
    assert await harness.balance("wallet:a3") == 100
    nobody = await harness.http.post("/v1/allocations", json={"id": "al-7", "amount": 1, "grades": ["E"]},
                                     headers=harness.operator)
    assert (nobody.status_code, nobody.json()["code"]) == (422, "no_recipients")
    assert (await harness.http.get("/v1/allocations/al-3")).json() == leaders.json()

    await harness.relay()
    allocated = [(e["data"]["user_id"], e["data"]["role"], e["data"]["grade"], e["data"]["selection"])
                 for e in harness.of("ledger.coins-allocated.v1") if e["data"]["allocation_id"] == "al-1"]
    assert sorted(allocated) == [("a1", "agent", "A", "roster"), ("a2", "agent", "C", "roster"),
                                 ("a3", "agent", None, "roster")]
    assert (await harness.audit())["ok"]


async def test_idle_wallets_are_reclaimed_and_need_an_approval_to_get_coins_again(harness: Harness) -> None:
    # One approval level (operators) and no qualification: the chain and the conditions have their own tests
    # (test_coins_learning.py).
    await harness.set_policy(idle_days=30, reallocation={"approval_levels": ["operator"],
                                                         "qualification": {"min_learning_minutes": 0}})
    await harness.give({"idle": 300, "busy": 300})
    await harness.send("ledger.transfer-requested.v1", purchase("p-1", "busy", "seller", 10))
    # 31 days on, only the wallet whose holder has not learned is idle: move the clocks by hand rather than
    # wait (the wallets' clock, moved by learning, is what the rule reads)
    now = datetime.now(UTC)
    await harness.store.accounts.update_one({"_id": f"{harness.tenant}|wallet:idle"},
                                            {"$set": {"last_activity_at": now - timedelta(days=31)}})
    await harness.store.accounts.update_one({"_id": f"{harness.tenant}|wallet:busy"},
                                            {"$set": {"last_activity_at": now - timedelta(days=29)}})
    run = await harness.http.post("/v1/reclaims", headers=harness.operator)
    assert run.status_code == 200, run.text
    assert [(r["user_id"], r["amount"]) for r in run.json()["reclaimed"]] == [("idle", 300)]
    assert (await harness.balance("wallet:idle"), await harness.balance("wallet:busy")) == (0, 290)
    assert await harness.balance("budget") == 300  # 600 issued, 600 allocated, 300 back
    assert (await harness.http.post("/v1/reclaims", headers=harness.operator)).json()["total"] == 0  # nothing twice
    user = (await harness.http.get("/v1/users/idle")).json()
    assert (user["wallet"], user["allocation_blocked"]) == (0, True)

    # blocked: allocations skip the user (or refuse, when it is the only one)
    refused = await harness.http.post("/v1/allocations", json={"id": "al-x", "amount": 10, "user_ids": ["idle"]},
                                      headers=harness.operator)
    assert (refused.status_code, refused.json()["code"]) == (409, "reallocation_needs_approval")
    mixed = await harness.http.post("/v1/allocations", json={"id": "al-y", "amount": 10,
                                                             "user_ids": ["idle", "busy"]}, headers=harness.operator)
    assert mixed.json()["skipped"] == [{"user_id": "idle", "reason": "reallocation_needs_approval"}]
    assert [a["user_id"] for a in mixed.json()["allocated"]] == ["busy"]

    # request, reject, request again, approve with coins
    not_needed = await harness.http.post("/v1/reallocation-requests", json={"user_id": "busy", "reason": "more"},
                                         headers=harness.as_("agent", "busy"))
    assert (not_needed.status_code, not_needed.json()["code"]) == (409, "not_reclaimed")
    first = await harness.http.post("/v1/reallocation-requests", json={"user_id": "idle", "reason": "我想学习"},
                                    headers=harness.as_("agent", "idle"))
    assert first.status_code == 201 and first.json()["status"] == "pending"
    twice = await harness.http.post("/v1/reallocation-requests", json={"user_id": "idle", "reason": "again"},
                                    headers=harness.as_("agent", "idle"))
    assert (twice.status_code, twice.json()["code"], twice.json()["request_id"]) == (
        409, "request_pending", first.json()["request_id"])
    rid = first.json()["request_id"]
    rejected = await harness.http.post(f"/v1/reallocation-requests/{rid}/reject", json={"reason": "先看看"},
                                       headers=harness.operator)
    assert (rejected.status_code, rejected.json()["status"], rejected.json()["decided_by"]) == (200, "rejected", "ops-1")
    late = await harness.http.post(f"/v1/reallocation-requests/{rid}/approve", headers=harness.operator)
    assert (late.status_code, late.json()["code"]) == (409, "request_decided")
    assert (await harness.http.get("/v1/users/idle")).json()["allocation_blocked"] is True

    second = (await harness.http.post("/v1/reallocation-requests", json={"user_id": "idle", "reason": "请批准"},
                                      headers=harness.as_("operator", "s1"))).json()
    approved = await harness.http.post(f"/v1/reallocation-requests/{second['request_id']}/approve",
                                       json={"amount": 120, "reason": "复学"}, headers=harness.operator)
    assert approved.status_code == 200, approved.text
    assert (approved.json()["status"], approved.json()["amount"]) == ("approved", 120)
    repeat = await harness.http.post(f"/v1/reallocation-requests/{second['request_id']}/approve",
                                     json={"amount": 120, "reason": "复学"}, headers=harness.operator)
    assert repeat.status_code == 200 and repeat.headers["Idempotent-Replayed"] == "true"
    user = (await harness.http.get("/v1/users/idle")).json()
    assert (user["wallet"], user["allocation_blocked"]) == (120, False)
    assert (await harness.http.post("/v1/reclaims", headers=harness.operator)).json()["total"] == 0  # its clock restarted
    listed = (await harness.http.get("/v1/reallocation-requests", params={"status": "approved"})).json()
    assert [r["request_id"] for r in listed] == [second["request_id"]]

    await harness.relay()
    [reclaimed] = harness.of("ledger.coins-reclaimed.v1")
    assert (reclaimed["data"]["user_id"], reclaimed["data"]["amount"], reclaimed["data"]["idle_days"]) == (
        "idle", 300, 30)
    decided = [(e["data"]["decision"], e["data"]["amount"]) for e in harness.of("ledger.reallocation-decided.v1")]
    assert decided == [("rejected", None), ("approved", 120)]
    assert [e["data"]["selection"] for e in harness.of("ledger.coins-allocated.v1")][-1] == "approval"
    assert (await harness.audit())["ok"]


async def test_redemption_converts_whole_yuan_at_one_hundred_coins(harness: Harness) -> None:
    await harness.give({"buyer": 1000})
    await harness.send("ledger.transfer-requested.v1", purchase("p-1", "buyer", "seller", 350))
    by_yuan = await harness.http.post("/v1/redemptions", json={"id": "r-1", "user_id": "seller", "yuan": 2,
                                                               "item": "保温杯"}, headers=harness.as_("service", "mall"))
    assert by_yuan.status_code == 201, by_yuan.text
    assert (by_yuan.json()["coins"], by_yuan.json()["yuan_fen"]) == (200, 200)
    odd = await harness.http.post("/v1/redemptions", json={"id": "r-2", "user_id": "seller", "coins": 150},
                                  headers=harness.as_("service", "mall"))
    assert (odd.status_code, odd.json()["code"]) == (422, "not_whole_yuan")
    over = await harness.http.post("/v1/redemptions", json={"id": "r-3", "user_id": "seller", "coins": 200},
                                   headers=harness.as_("service", "mall"))
    assert (over.status_code, over.json()["code"], over.json()["balance"]) == (409, "insufficient_funds", 150)
    wallet_coins = await harness.http.post("/v1/redemptions", json={"id": "r-4", "user_id": "buyer", "coins": 100},
                                           headers=harness.as_("service", "mall"))
    assert wallet_coins.json()["code"] == "insufficient_funds"  # only earnings are redeemed, not the wallet
    again = await harness.http.post("/v1/redemptions", json={"id": "r-1", "user_id": "seller", "yuan": 2,
                                                             "item": "保温杯"}, headers=harness.as_("service", "mall"))
    assert again.status_code == 200 and again.json() == by_yuan.json()
    assert (await harness.balance("earnings:seller"), await harness.balance("redeemed")) == (150, 200)
    await harness.relay()
    [event] = harness.of("ledger.coins-redeemed.v1")
    assert event["data"] | {"redeemed_at": None} == {"transfer_id": "r-1", "user_id": "seller", "coins": 200,
                                                     "yuan_fen": 200, "item": "保温杯", "redeemed_by": "mall",
                                                     "redeemed_at": None}
    assert (await harness.audit())["ok"]


async def test_the_blind_box_rewards_top_sellers_and_replays_from_its_seed(harness: Harness) -> None:
    await harness.give({"b1": 1000, "b2": 1000})
    for n, (buyer, seller, price) in enumerate([("b1", "s1", 300), ("b2", "s2", 200), ("b1", "s3", 100),
                                                ("b2", "s1", 50)]):
        await harness.send("ledger.transfer-requested.v1", purchase(f"p-{n}", buyer, seller, price))
    top = (await harness.http.get("/v1/reports/top-sellers", params={
        "since": (datetime.now(UTC) - timedelta(hours=1)).isoformat(), "limit": 2})).json()
    assert top == [{"user_id": "s1", "coins": 350}, {"user_id": "s2", "coins": 200}]

    poor = await harness.http.post("/v1/blind-boxes", json={"id": "bb-0", "top": 2, "min_amount": 10,
                                                            "max_amount": 50}, headers=harness.operator)
    assert (poor.status_code, poor.json()["code"]) == (409, "insufficient_funds")  # the pool is empty
    await harness.issue(100)
    fund = await harness.http.post("/v1/transfers", json={"id": "fund-pool", "debit": "budget", "credit": "bonus-pool",
                                                          "amount": 80}, headers=harness.operator)
    assert fund.status_code == 201, fund.text
    await harness.http.post("/v1/transfers", json={"id": "fund-pool-2", "debit": "budget", "credit": "bonus-pool",
                                                   "amount": 20}, headers=harness.operator)
    drawn = await harness.http.post("/v1/blind-boxes", json={"id": "bb-1", "top": 2, "min_amount": 10,
                                                             "max_amount": 50}, headers=harness.operator)
    assert drawn.status_code == 201, drawn.text
    body = drawn.json()
    assert body["recipients"] == ["s1", "s2"] and len(body["seed"]) == 32
    expected = domain.draw_amounts(body["seed"], ["s1", "s2"], 10, 50)
    assert [a["amount"] for a in body["awards"]] == expected and body["total"] == sum(expected)
    assert (await harness.balance("earnings:s1"), await harness.balance("earnings:s2")) == (350 + expected[0],
                                                                                            200 + expected[1])
    assert await harness.balance("bonus-pool") == 100 - sum(expected)
    replay = (await harness.http.get("/v1/blind-boxes/bb-1/replay")).json()
    assert replay["matches"] is True and [a["amount"] for a in replay["replayed"]] == expected
    again = await harness.http.post("/v1/blind-boxes", json={"id": "bb-1", "top": 2, "min_amount": 10,
                                                             "max_amount": 50}, headers=harness.operator)
    assert again.status_code == 200 and again.json() == body  # the same draw, not a new one

    # bb-1 may have drawn up to all 100 coins of the pool (two draws of 10-50): refill it for the next draw
    await harness.issue(5)
    refill = await harness.http.post("/v1/transfers", json={"id": "fund-pool-3", "debit": "budget", "credit": "bonus-pool",
                                                            "amount": 5}, headers=harness.operator)
    assert refill.status_code == 201, refill.text
    seeded = await harness.http.post("/v1/blind-boxes", json={"id": "bb-2", "user_ids": ["s3"], "min_amount": 1,
                                                              "max_amount": 5, "seed": "双11-锦囊"}, headers=harness.operator)
    assert seeded.json()["awards"][0]["amount"] == domain.draw_amounts("双11-锦囊", ["s3"], 1, 5)[0]
    # a tampered record no longer replays
    await harness.store.operations.update_one({"_id": f"{harness.tenant}|bb-2"}, {"$set": {"awards.0.amount": 99}})
    assert (await harness.http.get("/v1/blind-boxes/bb-2/replay")).json()["matches"] is False
    await harness.relay()
    [first, _] = harness.of("ledger.bonus-awarded.v1")
    assert (first["data"]["seed"], first["data"]["algorithm"], first["data"]["total"]) == (
        body["seed"], "hmac-sha256-v1", sum(expected))
    assert (await harness.audit())["ok"]


async def test_statements_page_filter_and_export_csv(harness: Harness) -> None:
    await harness.set_policy(daily_limits={"pair_daily_count": 10})
    await harness.give({"alice": 1000})
    for n in range(7):
        await harness.send("ledger.transfer-requested.v1", purchase(f"p-{n}", "alice", f"s{n % 2}", 10 + n))
    await harness.http.post("/v1/transfers", json={"id": "gift", "debit": "wallet:alice", "credit": "wallet:bob",
                                                   "amount": 5, "note": "生日快乐"}, headers=harness.operator)
    lines, cursor = [], None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await harness.http.get("/v1/accounts/wallet:alice/statement", params=params)).json()
        lines += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert page["balance"] == 1000 - sum(10 + n for n in range(7)) - 5
    assert [line["transfer_id"] for line in lines] == [lines[0]["transfer_id"], *(f"p-{n}" for n in range(7)), "gift"]
    assert lines[0]["kind"] == "allocation" and lines[0]["signed_amount"] == 1000
    assert [line["signed_amount"] for line in lines[1:]] == [-(10 + n) for n in range(7)] + [-5]
    assert sum(line["signed_amount"] for line in lines) == page["balance"]
    assert lines[1]["counterparty"] == "escrow:wallet:alice" and lines[1]["reference"] == "tip-1"
    assert lines[-1]["note"] == "生日快乐"

    purchases = (await harness.http.get("/v1/accounts/wallet:alice/statement",
                                        params={"kind": ["purchase"], "limit": 100})).json()
    assert len(purchases["items"]) == 7
    seller = (await harness.http.get("/v1/accounts/earnings:s1/statement")).json()
    assert [(line["transfer_id"], line["signed_amount"]) for line in seller["items"]] == [
        ("p-1/sale", 11), ("p-3/sale", 13), ("p-5/sale", 15)]
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await harness.http.get("/v1/accounts/wallet:alice/statement",
                                   params={"since": future})).json()["items"] == []
    until_now = (await harness.http.get("/v1/accounts/wallet:alice/statement",
                                        params={"until": future, "kind": ["allocation", "transfer"]})).json()
    assert [line["kind"] for line in until_now["items"]] == ["allocation", "transfer"]
    assert (await harness.http.get("/v1/accounts/wallet:alice/statement",
                                   params={"cursor": "garbage"})).status_code == 400
    assert (await harness.http.get("/v1/accounts/nope/statement")).status_code == 422

    exported = await harness.http.get("/v1/accounts/wallet:alice/statement.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r["transfer_id"] for r in rows] == [line["transfer_id"] for line in lines]
    assert [int(r["signed_amount"]) for r in rows] == [line["signed_amount"] for line in lines]
    assert rows[-1]["note"] == "生日快乐" and rows[1]["linked_group"] == "p-0"
    only_sales = await harness.http.get("/v1/accounts/earnings:s0/statement.csv", params={"kind": "sale"})
    assert len(list(csv.DictReader(io.StringIO(only_sales.content.decode("utf-8-sig"))))) == 4

    accounts = (await harness.http.get("/v1/accounts", params={"kind": "earnings"})).json()
    assert [a["account"] for a in accounts["items"]] == ["earnings:s0", "earnings:s1"]
