"""Transfers over HTTP on the real MongoDB: issuing coins, direct transfers, idempotency on the client id,
never below zero, two-phase holds (post, partial post, void, timeout), linked transfers, the audit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from ledger.domain import AccountState, Balances, Transfer
from ledger.store import Changes, LedgerInvariantError
from ledger.sweeper import Sweeper
from ledger_support import Harness


async def test_issued_coins_reach_the_budget_and_conservation_holds(harness: Harness) -> None:
    body = await harness.issue(5000, transfer_id="issue-1")
    assert (body["debit"], body["credit"], body["amount"], body["state"], body["kind"]) == (
        "issuance", "budget", 5000, "posted", "issue")
    assert await harness.balance("budget") == 5000
    issuance = (await harness.http.get("/v1/accounts/issuance")).json()
    assert (issuance["balance"], issuance["allow_negative"]) == (-5000, True)
    audit = await harness.audit()
    assert (audit["sum_of_balances"], audit["conserved"], audit["ok"]) == (0, True, True)
    await harness.relay()
    [event] = harness.of("ledger.transfer-recorded.v1")
    assert event["data"] | {"at": None} == {
        "transfer_id": "issue-1", "kind": "issue", "state": "posted", "debit_account": "issuance",
        "credit_account": "budget", "amount": 5000, "hold_id": None, "linked_group": None, "expires_at": None,
        "by": "ops-1", "at": None}


async def test_a_retry_returns_the_first_result_and_other_content_is_a_conflict(harness: Harness) -> None:
    await harness.give({"alice": 300})
    transfer = {"id": "t-1", "debit": "wallet:alice", "credit": "wallet:bob", "amount": 120}
    first = await harness.http.post("/v1/transfers", json=transfer, headers=harness.operator)
    assert first.status_code == 201, first.text
    again = await harness.http.post("/v1/transfers", json=transfer, headers=harness.operator)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob")) == (180, 120)

    clash = await harness.http.post("/v1/transfers", json=transfer | {"amount": 121}, headers=harness.operator)
    assert clash.status_code == 409
    assert clash.headers["content-type"] == "application/problem+json"
    assert (clash.json()["code"], clash.json()["transfer_id"]) == ("transfer_id_conflict", "t-1")
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob")) == (180, 120)
    # concurrent retries of one new id move the coins once
    results = await asyncio.gather(*(harness.http.post("/v1/transfers", json=transfer | {"id": "t-2"},
                                                       headers=harness.operator) for _ in range(8)))
    assert sorted(r.status_code for r in results) == [200] * 7 + [201]
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob")) == (60, 240)
    assert (await harness.audit())["ok"]


async def test_no_balance_goes_below_zero_unless_the_account_allows_it(harness: Harness) -> None:
    await harness.give({"alice": 100})
    over = await harness.http.post("/v1/transfers", json={"id": "t-over", "debit": "wallet:alice",
                                                          "credit": "wallet:bob", "amount": 101}, headers=harness.operator)
    assert over.status_code == 409, over.text
    assert (over.json()["code"], over.json()["balance"], over.json()["account"]) == (
        "insufficient_funds", 100, "wallet:alice")
    assert await harness.store.transfer(harness.tenant, "t-over") is None  # a refusal is not kept: retry later
    assert await harness.balance("wallet:alice") == 100

    # an operator lets the budget run an overdraft
    assert await harness.balance("budget") == 0
    refused = await harness.http.post("/v1/transfers", json={"id": "t-b1", "debit": "budget", "credit": "wallet:bob",
                                                             "amount": 50}, headers=harness.operator)
    assert refused.json()["code"] == "insufficient_funds"
    patched = await harness.http.patch("/v1/accounts/budget", json={"allow_negative": True}, headers=harness.operator)
    assert patched.status_code == 200 and patched.json()["allow_negative"] is True
    allowed = await harness.http.post("/v1/transfers", json={"id": "t-b1", "debit": "budget", "credit": "wallet:bob",
                                                             "amount": 50}, headers=harness.operator)
    assert allowed.status_code == 201, allowed.text
    assert await harness.balance("budget") == -50
    audit = await harness.audit()
    assert audit["ok"] and audit["negative_accounts"] == []  # allowed, so not reported
    await harness.http.patch("/v1/accounts/budget", json={"allow_negative": False}, headers=harness.operator)
    audit = await harness.audit()
    assert audit["negative_accounts"] == [{"key": "budget", "balance": -50}] and not audit["ok"]
    assert audit["conserved"]

    # accounts kept by the ledger itself are not transferable, and their rule cannot be changed
    for debit, credit in (("issuance", "wallet:bob"), ("wallet:bob", "redeemed"), ("escrow:wallet:bob", "budget")):
        refused = await harness.http.post("/v1/transfers", json={"id": "t-x", "debit": debit, "credit": credit,
                                                                 "amount": 1}, headers=harness.operator)
        assert (refused.status_code, refused.json()["code"]) == (422, "not_transferable"), (debit, credit)
    assert (await harness.http.patch("/v1/accounts/redeemed", json={"allow_negative": True},
                                     headers=harness.operator)).json()["code"] == "not_configurable"
    bad = await harness.http.post("/v1/transfers", json={"id": "t-y", "debit": "wallet:a|b", "credit": "budget",
                                                         "amount": 1}, headers=harness.operator)
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_account")
    anonymous = await harness.http.post("/v1/transfers", json={"id": "t-z", "debit": "budget", "credit": "wallet:a",
                                                               "amount": 1}, headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    agent = await harness.http.post("/v1/transfers", json={"id": "t-z", "debit": "wallet:a", "credit": "wallet:b",
                                                           "amount": 1}, headers=harness.as_("agent", "a"))
    assert (agent.status_code, agent.json()["code"]) == (403, "forbidden_role")


async def test_a_hold_is_posted_in_full_or_in_part_or_voided(harness: Harness) -> None:
    await harness.give({"alice": 500})
    held = await harness.http.post("/v1/transfers", json={"id": "h-1", "debit": "wallet:alice", "credit": "wallet:bob",
                                                          "amount": 200, "pending": True}, headers=harness.operator)
    assert held.status_code == 201, held.text
    assert (held.json()["state"], held.json()["credit"], held.json()["target"]) == (
        "pending", "escrow:wallet:alice", "wallet:bob")
    assert (await harness.balance("wallet:alice"), await harness.balance("escrow:wallet:alice"),
            await harness.balance("wallet:bob")) == (300, 200, 0)
    assert (await harness.audit())["ok"]  # escrow counts: the sum is still zero

    posted = await harness.http.post("/v1/transfers/h-1/post", json={"amount": 150}, headers=harness.operator)
    assert posted.status_code == 200, posted.text
    assert (posted.json()["state"], posted.json()["posted_amount"]) == ("posted", 150)
    assert (await harness.balance("wallet:alice"), await harness.balance("escrow:wallet:alice"),
            await harness.balance("wallet:bob")) == (350, 0, 150)
    again = await harness.http.post("/v1/transfers/h-1/post", json={"amount": 150}, headers=harness.operator)
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    for path, code in (("h-1/void", "hold_posted"), ("h-1/post", "hold_posted")):
        refused = await harness.http.post(f"/v1/transfers/{path}", json={"amount": 10} if "post" in path else None,
                                          headers=harness.operator)
        assert (refused.status_code, refused.json()["code"]) == (409, code)
    legs = {leg: (await harness.http.get(f"/v1/transfers/{leg}")).json() for leg in ("h-1/post", "h-1/release")}
    assert {k: (v["debit"], v["credit"], v["amount"], v["hold_id"]) for k, v in legs.items()} == {
        "h-1/post": ("escrow:wallet:alice", "wallet:bob", 150, "h-1"),
        "h-1/release": ("escrow:wallet:alice", "wallet:alice", 50, "h-1")}

    await harness.http.post("/v1/transfers", json={"id": "h-2", "debit": "wallet:alice", "credit": "wallet:bob",
                                                   "amount": 100, "pending": True}, headers=harness.operator)
    voided = await harness.http.post("/v1/transfers/h-2/void", headers=harness.operator)
    assert (voided.status_code, voided.json()["state"], voided.json()["void_reason"]) == (200, "voided", "voided")
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob")) == (350, 150)
    late = await harness.http.post("/v1/transfers/h-2/post", headers=harness.operator)
    assert (late.status_code, late.json()["code"]) == (409, "hold_voided")
    too_much = await harness.http.post("/v1/transfers", json={"id": "h-3", "debit": "wallet:alice",
                                                              "credit": "wallet:bob", "amount": 10, "pending": True},
                                       headers=harness.operator)
    over = await harness.http.post("/v1/transfers/h-3/post", json={"amount": 11}, headers=harness.operator)
    assert (too_much.status_code, over.status_code, over.json()["code"]) == (201, 422, "invalid_amount")
    assert (await harness.http.post("/v1/transfers/nope/void", headers=harness.operator)).json()["code"] == "unknown_hold"

    await harness.relay()
    recorded = [(e["data"]["transfer_id"], e["data"]["state"], e["data"]["hold_id"])
                for e in harness.of("ledger.transfer-recorded.v1") if e["data"]["kind"] != "issue"]
    assert recorded == [("h-1", "pending", None), ("h-1/post", "posted", "h-1"), ("h-1/release", "posted", "h-1"),
                        ("h-2", "pending", None), ("h-2/void", "posted", "h-2"), ("h-3", "pending", None)]
    assert (await harness.audit())["ok"]


async def test_a_hold_voids_itself_after_its_timeout(harness: Harness) -> None:
    await harness.give({"alice": 100})
    response = await harness.http.post("/v1/transfers", json={
        "id": "h-t", "debit": "wallet:alice", "credit": "wallet:bob", "amount": 80, "pending": True,
        "timeout_seconds": 60}, headers=harness.operator)
    assert response.status_code == 201
    expires = datetime.fromisoformat(response.json()["expires_at"])
    assert timedelta(seconds=55) < expires - datetime.now(UTC) <= timedelta(seconds=60)
    assert await harness.ledger.expire_holds(now=datetime.now(UTC)) == 0  # not due yet
    assert await harness.balance("wallet:alice") == 20

    assert await harness.ledger.expire_holds(now=expires + timedelta(seconds=1)) >= 1  # the sweeper's round
    hold = await harness.store.transfer(harness.tenant, "h-t")
    assert (hold["state"], hold["void_reason"], hold["resolved_by"]) == ("voided", "expired", "system")
    assert (await harness.balance("wallet:alice"), await harness.balance("escrow:wallet:alice")) == (100, 0)
    assert await harness.ledger.expire_holds(now=expires + timedelta(seconds=2)) == 0  # nothing twice
    late = await harness.http.post("/v1/transfers/h-t/post", headers=harness.operator)
    assert (late.status_code, late.json()["code"]) == (409, "hold_expired")

    # a post that finds its hold past the timeout voids it instead; the sweeper's round voids the other
    for hold_id in ("h-u", "h-v"):
        await harness.http.post("/v1/transfers", json={"id": hold_id, "debit": "wallet:alice", "credit": "wallet:bob",
                                                       "amount": 30, "pending": True, "timeout_seconds": 1},
                                headers=harness.operator)
    assert await harness.balance("wallet:alice") == 40
    await asyncio.sleep(1.1)
    late = await harness.http.post("/v1/transfers/h-u/post", headers=harness.operator)
    assert (late.status_code, late.json()["code"]) == (409, "hold_expired")
    assert (await harness.store.transfer(harness.tenant, "h-u"))["state"] == "voided"
    assert (await Sweeper(harness.ledger).sweep())["holds_voided"] >= 1
    assert (await harness.store.transfer(harness.tenant, "h-v"))["void_reason"] == "expired"
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob")) == (100, 0)
    assert (await harness.audit())["ok"]


async def test_only_the_replica_holding_the_lease_sweeps(harness: Harness) -> None:
    replicas = [Sweeper(harness.ledger), Sweeper(harness.ledger)]
    swept: list[int] = []
    for number, replica in enumerate(replicas):
        async def sweep(number: int = number) -> dict[str, int]:
            swept.append(number)
            return {"holds_voided": 0, "wallets_reclaimed": 0}
        replica.sweep = sweep  # type: ignore[method-assign]
    await harness.store.leases.delete_many({"_id": "ledger-sweep"})
    for _ in range(3):
        for replica in replicas:
            await replica.round()
    assert swept == [0, 0, 0]  # the second replica never swept while the first held the lease
    await replicas[0].stop()  # a stopping replica gives the lease up: the other takes over at once
    await replicas[1].round()
    assert swept == [0, 0, 0, 1]


async def test_linked_transfers_succeed_or_fail_together(harness: Harness) -> None:
    await harness.give({"alice": 100})
    group = [{"id": "l-1", "debit": "wallet:alice", "credit": "wallet:bob", "amount": 60},
             {"id": "l-2", "debit": "wallet:bob", "credit": "wallet:carol", "amount": 50},  # spends what l-1 gave
             {"id": "l-3", "debit": "wallet:alice", "credit": "wallet:carol", "amount": 41}]  # 40 left: fails
    failed = await harness.http.post("/v1/linked-transfers", json={"transfers": group}, headers=harness.operator)
    assert failed.status_code == 409, failed.text
    assert (failed.json()["code"], failed.json()["index"]) == ("insufficient_funds", 2)
    assert await harness.store.transfers_by_id(harness.tenant, ["l-1", "l-2", "l-3"]) == {}
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob"),
            await harness.balance("wallet:carol")) == (100, 0, 0)

    group[2]["amount"] = 40
    done = await harness.http.post("/v1/linked-transfers", json={"transfers": group}, headers=harness.operator)
    assert done.status_code == 201, done.text
    assert [t["linked_group"] for t in done.json()["transfers"]] == ["l-1", "l-1", "l-1"]
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob"),
            await harness.balance("wallet:carol")) == (0, 10, 90)
    again = await harness.http.post("/v1/linked-transfers", json={"transfers": group}, headers=harness.operator)
    assert again.status_code == 200 and again.json() == done.json()
    # one of the group alone is other content (not linked): refused
    alone = await harness.http.post("/v1/transfers", json=group[0], headers=harness.operator)
    assert alone.json()["code"] == "transfer_id_conflict"
    assert (await harness.audit())["ok"]


async def test_the_database_refuses_a_debit_the_balance_does_not_cover(harness: Harness) -> None:
    """Non-negativity does not rest on the decision alone: a debit decided on a stale or wrong balance
    fails its guarded update, and the whole transaction with it."""
    await harness.give({"alice": 100})
    wrong = Balances([AccountState("wallet:alice", 1000, False, True)])  # believes alice holds 1000
    wrong.move("wallet:alice", "wallet:bob", 500)
    forged = Transfer("forged", "transfer", "wallet:alice", "wallet:bob", 500, datetime.now(UTC), "test")

    async def work(session):  # type: ignore[no-untyped-def]
        await harness.store.write(Changes(harness.tenant, datetime.now(UTC), wrong, transfers=[forged]), session)

    with pytest.raises(LedgerInvariantError):
        await harness.store.transaction(work)
    assert await harness.store.transfer(harness.tenant, "forged") is None
    assert (await harness.balance("wallet:alice"), await harness.balance("wallet:bob")) == (100, 0)
