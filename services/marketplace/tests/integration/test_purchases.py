"""Buying a tip, a saga over the ledger's events, on the real MongoDB with the in-memory broker: the
purchase and its request to the ledger commit together; access only once the ledger posted the transfer;
refusals carry the ledger's reason; redelivered, repeated and late answers have no second effect."""

from __future__ import annotations

import asyncio
import uuid

from marketplace import domain
from marketplace_support import Harness
from telesales_contracts.topics import LEDGER_TRANSFER_REQUESTED


async def test_a_purchase_asks_the_ledger_to_pay_and_grants_access_once_posted(harness: Harness) -> None:
    tip_id = await harness.listed()
    response = await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))
    assert response.status_code == 202
    purchase = response.json()
    assert (purchase["status"], purchase["attempt"], purchase["price"], purchase["seller_id"]) == (
        "pending", 1, 30, "zhang-san")
    assert purchase["transfer_id"] == domain.transfer_id("li-si", tip_id, 1)

    await harness.relay()
    [request] = harness.of(LEDGER_TRANSFER_REQUESTED.name)
    assert request["data"] == {"transfer_id": purchase["transfer_id"], "buyer_id": "li-si", "seller_id": "zhang-san",
                               "tip_id": tip_id, "price": 30}
    assert [e["data"]["transfer_id"] for e in harness.of("marketplace.purchase-requested.v1")] == [
        purchase["transfer_id"]]

    # no access while the ledger has not answered
    content = await harness.http.get(f"/v1/tips/{tip_id}/content", headers=harness.as_user("li-si"))
    assert (content.status_code, content.json()["code"]) == (403, "not_bought")
    assert (await harness.http.get(f"/v1/tips/{tip_id}", headers=harness.as_user("li-si"))).json()["access"] is False

    await harness.ledger_posts(purchase, seller_amount=27)
    owned = await harness.owned("li-si", tip_id)
    assert (owned["status"], owned["seller_amount"]) == ("granted", 27)
    content = await harness.http.get(f"/v1/tips/{tip_id}/content", headers=harness.as_user("li-si"))
    assert content.status_code == 200 and content.json()["body"].startswith("第一步")
    assert (await harness.http.get(f"/v1/tips/{tip_id}", headers=harness.as_user("li-si"))).json()["access"] is True
    assert (await harness.http.get(f"/v1/tips/{tip_id}")).json()["sales"] == 1
    await harness.relay()
    [completed] = harness.of("marketplace.purchase-completed.v1")
    assert (completed["data"]["buyer_id"], completed["data"]["seller_amount"]) == ("li-si", 27)


async def test_asking_again_never_pays_twice(harness: Harness) -> None:
    tip_id = await harness.listed()
    first = await harness.buy(tip_id, "li-si")
    again = await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))
    assert again.status_code == 200 and again.json()["transfer_id"] == first["transfer_id"]
    await harness.ledger_posts(first)
    after = await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))
    assert (after.status_code, after.json()["status"]) == (200, "granted")
    await harness.relay()
    assert len(harness.of(LEDGER_TRANSFER_REQUESTED.name)) == 1


async def test_concurrent_requests_of_one_buyer_ask_the_ledger_once(harness: Harness) -> None:
    tip_id = await harness.listed()
    answers = await asyncio.gather(*(harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))
                                     for _ in range(5)))
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 202]
    assert len({a.json()["transfer_id"] for a in answers}) == 1
    await harness.relay()
    assert len(harness.of(LEDGER_TRANSFER_REQUESTED.name)) == 1


async def test_redelivered_repeated_and_late_answers_have_no_second_effect(harness: Harness) -> None:
    tip_id = await harness.listed()
    purchase = await harness.buy(tip_id, "li-si")
    event_id = str(uuid.uuid4())
    await harness.ledger_posts(purchase, event_id=event_id)
    await harness.ledger_posts(purchase, event_id=event_id)  # redelivered: the same event id
    await harness.ledger_posts(purchase, repeat=True)  # the ledger answering a repeated request
    await harness.ledger_rejects(purchase, "insufficient_funds")  # a late contradicting answer
    owned = await harness.owned("li-si", tip_id)
    assert owned["status"] == "granted" and owned["refusal"] is None
    assert (await harness.http.get(f"/v1/tips/{tip_id}")).json()["sales"] == 1
    await harness.relay()
    assert len(harness.of("marketplace.purchase-completed.v1")) == 1
    assert harness.of("marketplace.purchase-refused.v1") == []
    inbox = await harness.store.inbox.outcome(harness.tenant, event_id)
    assert inbox is not None and inbox["status"] == "granted"


async def test_a_refusal_carries_the_daily_limit_and_a_new_attempt_uses_a_new_transfer(harness: Harness) -> None:
    tip_id = await harness.listed()
    purchase = await harness.buy(tip_id, "li-si")
    await harness.ledger_rejects(purchase, "daily_limit", limit="pair_daily_count", limit_value=3)
    refused = await harness.owned("li-si", tip_id)
    assert refused["status"] == "refused"
    assert (refused["refusal"]["reason"], refused["refusal"]["limit"], refused["refusal"]["limit_value"]) == (
        "daily_limit", "pair_daily_count", 3)
    content = await harness.http.get(f"/v1/tips/{tip_id}/content", headers=harness.as_user("li-si"))
    assert content.status_code == 403
    await harness.relay()
    [event] = harness.of("marketplace.purchase-refused.v1")
    assert (event["data"]["reason"], event["data"]["limit"]) == ("daily_limit", "pair_daily_count")

    retry = await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))
    assert retry.status_code == 202
    second = retry.json()
    assert (second["attempt"], second["status"]) == (2, "pending")
    assert second["transfer_id"] == domain.transfer_id("li-si", tip_id, 2) != purchase["transfer_id"]
    await harness.ledger_posts(purchase)  # an answer about the refused first attempt changes nothing
    assert (await harness.owned("li-si", tip_id))["status"] == "pending"
    await harness.ledger_posts(second)
    assert (await harness.owned("li-si", tip_id))["status"] == "granted"


async def test_a_transfer_id_conflict_does_not_refuse_so_no_second_payment_is_attempted(harness: Harness) -> None:
    tip_id = await harness.listed()
    purchase = await harness.buy(tip_id, "li-si")
    await harness.ledger_rejects(purchase, "transfer_id_conflict")
    stored = await harness.store.purchase(harness.tenant, purchase["purchase_id"])
    assert stored["status"] == "pending" and stored["conflict"] is not None
    again = await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))
    assert again.status_code == 200 and again.json()["attempt"] == 1


async def test_answers_about_transfers_the_marketplace_never_asked_for_are_ignored(harness: Harness) -> None:
    tip_id = await harness.listed()
    stranger = {"transfer_id": "order-1", "buyer_id": "li-si", "seller_id": "zhang-san", "tip_id": tip_id, "price": 30}
    event_id = await harness.ledger_posts(stranger)
    assert (await harness.store.inbox.outcome(harness.tenant, event_id))["status"] == "unknown_transfer"
    assert (await harness.http.get(f"/v1/tips/{tip_id}", headers=harness.as_user("li-si"))).json()["access"] is False


async def test_a_broken_answer_is_dead_lettered(harness: Harness) -> None:
    await harness.broker.publish(b"{not json", topic="ledger.transfer-posted.v1")
    await harness.send("ledger.transfer-rejected.v1", {"transfer_id": "x"})  # breaks the contract
    letters = [e for e in harness.events["platform.dead-lettered.v1"]
               if e["data"]["original_topic"].startswith("ledger.transfer-")]
    assert {(e["data"]["original_topic"], e["data"]["error_type"]) for e in letters[-2:]} == {
        ("ledger.transfer-posted.v1", "json_error"), ("ledger.transfer-rejected.v1", "schema_error")}


async def test_buying_rules(harness: Harness) -> None:
    tip_id = await harness.listed()
    own = await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("zhang-san"))
    assert (own.status_code, own.json()["code"]) == (409, "own_tip")
    unlisted = (await harness.draft())["tip_id"]
    response = await harness.http.post(f"/v1/tips/{unlisted}/purchases", headers=harness.as_user("li-si"))
    assert (response.status_code, response.json()["code"]) == (409, "not_listed")
    missing = await harness.http.post("/v1/tips/nope/purchases", headers=harness.as_user("li-si"))
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_tip")
    await harness.relay()
    assert harness.of(LEDGER_TRANSFER_REQUESTED.name) == []


async def test_a_buyer_keeps_access_to_later_versions_and_after_delisting(harness: Harness) -> None:
    tip_id = await harness.listed()
    await harness.bought(tip_id, "li-si")
    await harness.http.post(f"/v1/tips/{tip_id}/versions", json={"body": "新版话术"}, headers=harness.as_user("zhang-san"))
    await harness.submit(tip_id, 2)
    draft_read = await harness.http.get(f"/v1/tips/{tip_id}/versions/2", headers=harness.as_user("li-si"))
    assert draft_read.status_code == 404  # not approved yet: not for buyers
    await harness.approve(tip_id, 2)
    assert (await harness.http.get(f"/v1/tips/{tip_id}/content", headers=harness.as_user("li-si"))).json()["body"] == "新版话术"
    await harness.http.post(f"/v1/tips/{tip_id}/delist", headers=harness.as_user("zhang-san"))
    assert (await harness.http.get(f"/v1/tips/{tip_id}/content", headers=harness.as_user("li-si"))).status_code == 200


async def test_a_tips_detail_says_who_may_read_it(harness: Harness) -> None:
    """The detail reads the tip and the caller's purchase together: the author and reviewers may read it,
    a buyer only once paid, another buyer's purchase grants nothing, a machine client is not told, and an
    unknown tip is a 404."""
    tip_id = await harness.listed()
    purchase = (await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))).json()
    await harness.ledger_posts(purchase, seller_amount=27)

    async def access(headers: dict[str, str]) -> bool | None:
        response = await harness.http.get(f"/v1/tips/{tip_id}", headers=headers)
        assert response.status_code == 200, response.text
        return response.json()["access"]

    assert await access(harness.as_user("zhang-san")) is True  # the author
    assert await access(harness.reviewer) is True
    assert await access(harness.as_user("li-si")) is True
    assert await access(harness.as_user("wang-wu")) is False
    assert await access(harness.as_("service", "crm")) is None
    missing = await harness.http.get("/v1/tips/no-such-tip", headers=harness.as_user("li-si"))
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_tip")
