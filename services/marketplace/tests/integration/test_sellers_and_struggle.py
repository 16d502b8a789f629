"""Sellers' sales, ratings and earnings; redemption errors; the struggle push."""

from __future__ import annotations

import httpx

from marketplace_support import Harness


async def test_a_seller_sees_sales_ratings_and_earnings(harness: Harness) -> None:
    a = await harness.listed(price=30)
    b = await harness.listed(price=50)
    await harness.listed(author="wang-wu")
    for buyer in ("li-si", "zhao-liu"):
        await harness.ledger_posts(await harness.buy(a, buyer), seller_amount=27)
    await harness.ledger_posts(await harness.buy(b, "li-si"), seller_amount=45)
    await harness.ledger_rejects(await harness.buy(b, "zhao-liu"))  # refused: no sale
    await harness.http.post(f"/v1/tips/{a}/ratings", json={"stars": 5}, headers=harness.as_user("li-si"))
    await harness.http.post(f"/v1/tips/{b}/ratings", json={"stars": 4}, headers=harness.as_user("li-si"))
    summary = (await harness.http.get("/v1/sellers/zhang-san")).json()
    assert summary == {"seller_id": "zhang-san", "tips": 2, "listed": 2, "sales": 3, "sales_coins": 110,
                       "earnings": 99, "ratings": 2, "rating_avg": 4.5}
    page = (await harness.http.get("/v1/sellers/zhang-san/sales", params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_before"] is not None
    rest = (await harness.http.get("/v1/sellers/zhang-san/sales", params={"before": page["next_before"]})).json()
    assert len(rest["items"]) == 1 and rest["next_before"] is None
    assert {(s["tip_id"], s["buyer_id"]) for s in page["items"] + rest["items"]} == {
        (a, "li-si"), (a, "zhao-liu"), (b, "li-si")}


async def test_only_the_seller_redeems_and_an_unreachable_ledger_is_a_502(harness: Harness) -> None:
    other = await harness.http.post("/v1/sellers/zhang-san/redemptions", json={"id": "r-1", "yuan": 1},
                                    headers=harness.as_user("li-si"))
    assert (other.status_code, other.json()["code"]) == (403, "not_seller")
    # a ledger address where nothing listens (the real ledger is in tests/test_marketplace_e2e.py)
    configured = harness.market.ledger_http
    async with httpx.AsyncClient(base_url="http://127.0.0.1:9", timeout=2) as nowhere:
        harness.market.ledger_http = nowhere
        try:
            down = await harness.http.post("/v1/sellers/zhang-san/redemptions", json={"id": "r-1", "yuan": 1},
                                           headers=harness.as_user("zhang-san"))
        finally:
            harness.market.ledger_http = configured
    assert (down.status_code, down.json()["code"]) == (502, "ledger_unavailable")


async def test_the_struggle_push_recommends_best_rated_unbought_tips_of_the_lagging_stage(harness: Harness) -> None:
    best = await harness.listed(stage="quoting", title="嫌贵")
    good = await harness.listed(stage="quoting", title="再考虑")
    owned = await harness.listed(stage="quoting", title="已买")
    own = await harness.listed(author="li-si", stage="quoting", title="自己写的")
    await harness.listed(stage="closing", title="促成")
    for tip_id, stars in ((best, 5), (good, 4), (owned, 5)):
        await harness.bought(tip_id, "wang-wu")
        await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": stars}, headers=harness.as_user("wang-wu"))
    await harness.bought(owned, "li-si")

    response = await harness.http.post("/v1/agents/li-si/struggle", json={
        "team_id": "team-7", "agent": {"connect_60s": 0.30, "intent": 0.08, "visit": 0.05, "plan": 0.02},
        "team": {"connect_60s": 0.32, "intent": 0.20, "visit": 0.06, "plan": 0.03}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["step"], body["stage"], body["gap"]) == ("intent", "quoting", 0.12)
    assert [t["tip_id"] for t in body["tips"]] == [best, good]
    assert own not in [t["tip_id"] for t in body["tips"]]
    await harness.relay()
    [event] = harness.of("marketplace.struggle-recommended.v1")
    assert (event["data"]["agent_id"], event["data"]["team_id"], event["subject"]) == ("li-si", "team-7", "li-si")
    assert [t["tip_id"] for t in event["data"]["tips"]] == [best, good]

    latest = (await harness.http.get("/v1/agents/li-si/recommendations/latest")).json()
    assert (latest["recommendation_id"], [t["tip_id"] for t in latest["tips"]]) == (body["recommendation_id"],
                                                                                   [best, good])
    none = await harness.http.get("/v1/agents/wang-wu/recommendations/latest")
    assert (none.status_code, none.json()["code"]) == (404, "unknown_recommendation")

    fine = await harness.http.post("/v1/agents/li-si/struggle", json={"agent": {"intent": 0.3}, "team": {"intent": 0.2}})
    assert fine.json()["step"] is None and fine.json()["tips"] == []
    bad = await harness.http.post("/v1/agents/li-si/struggle", json={"agent": {"intent": 1.3}, "team": {}})
    assert bad.status_code == 422
