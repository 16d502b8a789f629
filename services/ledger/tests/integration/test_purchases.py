"""Purchases from the marketplace (ledger.transfer-requested.v1) through the real handlers and MongoDB:
hold then post with the revenue share, answers on Kafka, daily limits naming the limit reached, refusals,
idempotency on the event id and on the transfer id, batches decided in one transaction, poison messages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from ledger import domain
from ledger.store import reads
from ledger_support import Harness, purchase

REQUESTED = "ledger.transfer-requested.v1"


async def test_a_purchase_holds_then_posts_to_the_seller_and_answers(harness: Harness) -> None:
    await harness.give({"buyer": 500})
    await harness.set_policy(seller_share_percent=80)
    event_id = await harness.send(REQUESTED, purchase("p-1", "buyer", "seller", 99, tip="tip-42"))
    # 80 % of 99 rounded down to the seller, the rest back to the budget
    assert (await harness.balance("wallet:buyer"), await harness.balance("earnings:seller"),
            await harness.balance("budget"), await harness.balance("escrow:wallet:buyer")) == (401, 79, 20, 0)
    await harness.relay()
    [posted] = harness.of("ledger.transfer-posted.v1")
    assert posted["data"] | {"posted_at": None} == {
        "transfer_id": "p-1", "buyer_id": "buyer", "seller_id": "seller", "tip_id": "tip-42", "price": 99,
        "request_event_id": event_id, "repeat": False, "seller_amount": 79, "platform_amount": 20,
        "buyer_balance": 401, "day": "2026-11-24", "posted_at": None}
    assert posted["subject"] == "p-1" and harness.of("ledger.transfer-rejected.v1") == []
    # the hold, then its posting: three transfers of one linked group
    docs = await harness.store.transfers_by_id(harness.tenant, ["p-1", "p-1/sale", "p-1/fee"])
    assert {k: (d["kind"], d["state"], d["debit"], d["credit"], d["amount"], d["linked_group"])
            for k, d in docs.items()} == {
        "p-1": ("purchase", "posted", "wallet:buyer", "escrow:wallet:buyer", 99, "p-1"),
        "p-1/sale": ("sale", "posted", "escrow:wallet:buyer", "earnings:seller", 79, "p-1"),
        "p-1/fee": ("fee", "posted", "escrow:wallet:buyer", "budget", 20, "p-1")}
    assert (await harness.audit())["ok"]


async def test_a_duplicate_delivery_has_no_second_effect(harness: Harness) -> None:
    await harness.give({"buyer": 500})
    event_id = str(uuid.uuid4())
    for _ in range(3):
        await harness.send(REQUESTED, purchase("p-dup", "buyer", "seller", 100), event_id=event_id)
    assert (await harness.balance("wallet:buyer"), await harness.balance("earnings:seller")) == (400, 100)
    await harness.relay()
    assert len(harness.of("ledger.transfer-posted.v1")) == 1
    assert await harness.store.inbox.outcome(harness.tenant, event_id) | {"processed_at": None} == {
        "status": "posted", "transfer_id": "p-dup", "processed_at": None}


async def test_the_same_transfer_id_is_answered_with_its_first_result(harness: Harness) -> None:
    await harness.give({"buyer": 150})
    await harness.send(REQUESTED, purchase("p-1", "buyer", "seller", 100))
    retry = await harness.send(REQUESTED, purchase("p-1", "buyer", "seller", 100))  # the marketplace retried
    clash = await harness.send(REQUESTED, purchase("p-1", "buyer", "seller", 30))  # another purchase, same id
    await harness.send(REQUESTED, purchase("p-2", "buyer", "seller", 100))  # 50 left: refused
    await harness.send(REQUESTED, purchase("p-2", "buyer", "seller", 100))  # the refusal stands, even...
    await harness.give({"buyer": 500})  # ...after a top-up
    await harness.send(REQUESTED, purchase("p-2", "buyer", "seller", 100))
    assert (await harness.balance("wallet:buyer"), await harness.balance("earnings:seller")) == (550, 100)
    await harness.relay()
    posted = harness.of("ledger.transfer-posted.v1")
    assert [(e["data"]["transfer_id"], e["data"]["repeat"], e["data"]["buyer_balance"]) for e in posted] == [
        ("p-1", False, 50), ("p-1", True, 50)]
    assert posted[1]["data"]["request_event_id"] == retry
    rejected = harness.of("ledger.transfer-rejected.v1")
    assert [(e["data"]["transfer_id"], e["data"]["reason"], e["data"]["repeat"]) for e in rejected] == [
        ("p-1", "transfer_id_conflict", False), ("p-2", "insufficient_funds", False),
        ("p-2", "insufficient_funds", True), ("p-2", "insufficient_funds", True)]
    assert rejected[0]["data"]["request_event_id"] == clash and rejected[0]["data"]["price"] == 30
    assert (await harness.audit())["ok"]


async def test_daily_limits_refuse_and_name_the_limit(harness: Harness) -> None:
    await harness.give({"b1": 10_000, "b2": 10_000, "b3": 10_000})
    await harness.set_policy(daily_limits={"buyer_daily_count": 4, "buyer_daily_coins": 300,
                                           "pair_daily_count": 2, "pair_daily_coins": 150})
    day1, day2 = "2026-11-24T10:00:00+08:00", "2026-11-25T00:30:00+08:00"  # two business days in Shanghai
    sends = [
        ("b1", "s1", 50, day1, "posted"), ("b1", "s1", 50, day1, "posted"),
        ("b1", "s1", 10, day1, domain.DailyLimit.PAIR_COUNT),  # a third from the same seller today
        ("b1", "s2", 50, day1, "posted"), ("b1", "s3", 50, day1, "posted"),
        ("b1", "s4", 10, day1, domain.DailyLimit.BUYER_COUNT),  # a fifth purchase today
        ("b1", "s1", 50, day2, "posted"),  # a new day: counts start again
        ("b2", "s1", 140, day1, "posted"), ("b2", "s2", 161, day1, domain.DailyLimit.BUYER_COINS),  # 301 > 300
        ("b3", "s1", 100, day1, "posted"), ("b3", "s1", 51, day1, domain.DailyLimit.PAIR_COINS),  # 151 > 150
    ]
    for n, (buyer, seller, price, time, _) in enumerate(sends):
        await harness.send(REQUESTED, purchase(f"p-{n}", buyer, seller, price), time=time)
    await harness.relay()
    answers = {e["data"]["transfer_id"]: e for e in harness.of("ledger.transfer-posted.v1")}
    for e in harness.of("ledger.transfer-rejected.v1"):
        answers[e["data"]["transfer_id"]] = e
    for n, (_, _, _, _, expected) in enumerate(sends):
        data = answers[f"p-{n}"]["data"]
        if expected == "posted":
            assert "reason" not in data, data
        else:
            assert (data["reason"], data["limit"]) == ("daily_limit", expected.value), data
    limits = {"buyer_daily_count": 4, "buyer_daily_coins": 300, "pair_daily_count": 2, "pair_daily_coins": 150}
    refused = [answers[f"p-{n}"]["data"] for n, s in enumerate(sends) if s[4] != "posted"]
    assert all(d["limit_value"] == limits[d["limit"]] for d in refused)
    assert answers["p-6"]["data"]["day"] == "2026-11-25"
    assert await harness.balance("wallet:b1") == 10_000 - 250
    assert (await harness.audit())["ok"]


async def test_the_counters_of_a_day_long_past_outlive_the_ttl_monitor(harness: Harness) -> None:
    """A request of a day whose counters would be past their expiry when written (published late, a
    replay): the counters stay at least a day, so MongoDB's TTL monitor (every 60 s) cannot drop them
    between two requests of that day and start its limits again at zero."""
    await harness.give({"late": 1_000})
    past = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    await harness.send(REQUESTED, purchase("p-late", "late", "seller", 10), time=past)
    docs = await harness.store.counters.find({"tenant_id": harness.tenant}).to_list()
    assert len(docs) == 2  # the buyer's counter and the pair's
    assert all(doc["expires_at"] > datetime.now(UTC) + timedelta(hours=23) for doc in docs)


async def test_self_purchase_and_missing_funds_are_refused(harness: Harness) -> None:
    await harness.give({"alice": 50})
    await harness.send(REQUESTED, purchase("p-self", "alice", "alice", 10))
    await harness.send(REQUESTED, purchase("p-poor", "nobody", "alice", 10))  # never had a wallet
    await harness.send(REQUESTED, purchase("p-much", "alice", "bob", 51))
    await harness.relay()
    reasons = {e["data"]["transfer_id"]: (e["data"]["reason"], e["data"]["limit"])
               for e in harness.of("ledger.transfer-rejected.v1")}
    assert reasons == {"p-self": ("self_purchase", None), "p-poor": ("insufficient_funds", None),
                       "p-much": ("insufficient_funds", None)}
    assert await harness.balance("wallet:alice") == 50
    stored = await harness.store.transfer(harness.tenant, "p-much")
    assert (stored["state"], "debit" in stored, stored["purchase"]["reason"]) == ("rejected", False,
                                                                                   "insufficient_funds")
    statement = (await harness.http.get("/v1/accounts/wallet:alice/statement")).json()
    assert [line["kind"] for line in statement["items"]] == ["allocation"]  # refusals move nothing


async def test_a_batch_of_requests_is_decided_in_order_in_one_transaction(harness: Harness) -> None:
    await harness.give({"b1": 100, "b2": 100})
    deliveries = [harness.delivery(purchase(f"p-{n}", "b1" if n % 2 else "b2", "s1", 30)) for n in range(8)]
    deliveries.append(harness.delivery(purchase("p-1", "b1", "s1", 30)))  # a repeat inside the batch
    decisions = await harness.ledger.purchase_batch(tenant=harness.tenant, deliveries=deliveries)
    # each buyer affords three of its four (100 // 30); the pair limit (3) would refuse a fourth too
    assert [d.outcome for d in decisions] == ["posted"] * 6 + ["rejected"] * 2 + ["repeat"]
    assert [d.reason and d.reason.value for d in decisions[6:8]] == ["daily_limit", "daily_limit"]
    assert (await harness.balance("wallet:b1"), await harness.balance("wallet:b2"),
            await harness.balance("earnings:s1")) == (10, 10, 180)
    # a second delivery of the whole batch changes nothing
    await harness.ledger.handle_transfer_requests(deliveries=deliveries)
    assert await harness.balance("earnings:s1") == 180
    await harness.relay()
    assert len(harness.of("ledger.transfer-posted.v1")) == 7  # six, and the repeat's answer
    assert (await harness.audit())["ok"]


async def test_a_batch_read_in_several_chunks_is_decided_as_in_one(harness: Harness,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reads, "CHUNK", 2)  # a buyer's wallet and counters, and a transfer id, in several chunks
    await harness.give({"b1": 100, "b2": 100})
    first = [harness.delivery(purchase(f"p-{n}", "b1" if n % 2 else "b2", "s1", 30)) for n in range(3)]
    assert [d.outcome for d in await harness.ledger.purchase_batch(tenant=harness.tenant, deliveries=first)] == [
        "posted"] * 3
    deliveries = [*first, *(harness.delivery(purchase(f"p-{n}", "b1" if n % 2 else "b2", "s1", 30))
                            for n in range(3, 8))]
    deliveries.append(harness.delivery(purchase("p-1", "b1", "s1", 30)))  # a repeat, decided in the first batch
    decisions = await harness.ledger.purchase_batch(tenant=harness.tenant, deliveries=deliveries)
    # the first three were processed before (inbox): left out, whichever chunk they were read in
    assert [(d.request.transfer_id, d.outcome) for d in decisions] == [
        ("p-3", "posted"), ("p-4", "posted"), ("p-5", "posted"), ("p-6", "rejected"), ("p-7", "rejected"),
        ("p-1", "repeat")]
    assert (await harness.balance("wallet:b1"), await harness.balance("wallet:b2"),
            await harness.balance("earnings:s1")) == (10, 10, 180)
    assert (await harness.audit())["ok"]


async def test_broken_requests_go_to_the_dead_letter_topic(harness: Harness) -> None:
    await harness.broker.publish(b"not json", topic=REQUESTED)
    await harness.send(REQUESTED, {"transfer_id": "p-1", "buyer_id": "a", "seller_id": "b", "tip_id": "t",
                                   "price": 0})
    await harness.send(REQUESTED, {"transfer_id": "p/1", "buyer_id": "a", "seller_id": "b", "tip_id": "t",
                                   "price": 1})  # "/" is reserved for the ledger's own ids
    letters = harness.events["platform.dead-lettered.v1"]
    assert [(d["data"]["error_type"], d["data"]["original_topic"]) for d in letters[-3:]] == [
        ("json_error", REQUESTED), ("schema_error", REQUESTED), ("schema_error", REQUESTED)]
    assert await harness.store.transfer(harness.tenant, "p-1") is None


async def test_the_policy_is_validated_and_versioned(harness: Harness) -> None:
    read = await harness.http.get("/v1/config/policy")
    assert read.status_code == 200 and read.headers["ETag"] == '"0"'
    assert read.json()["value"]["seller_share_percent"] == 100
    bad = await harness.http.put("/v1/config/policy", json={"seller_share_percent": 101}, headers=harness.operator)
    assert bad.status_code == 422
    first = await harness.http.put("/v1/config/policy", json={"idle_days": 10}, headers=harness.operator | {"If-Match": '"0"'})
    assert first.status_code == 200 and first.json()["version"] == 1
    stale = await harness.http.put("/v1/config/policy", json={"idle_days": 11}, headers=harness.operator | {"If-Match": '"0"'})
    assert stale.status_code == 412
