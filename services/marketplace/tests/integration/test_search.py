"""Browse and search over HTTP on the real MongoDB: filters, Chinese full text by bigrams ranked by the
number matched, sorts by rating, sales and recency, cursor pages."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest

from marketplace import domain
from marketplace.search_feed import SearchIndexFeed
from marketplace_support import Harness
from telesales_testkit.harness import wait_until


async def ids(harness: Harness, **params: object) -> list[str]:
    response = await harness.http.get("/v1/tips", params=params)
    assert response.status_code == 200, response.text
    return [t["tip_id"] for t in response.json()["items"]]


async def test_chinese_full_text_is_found_and_ranked_by_matched_bigrams(harness: Harness) -> None:
    exact = await harness.listed(title="客户嫌贵怎么办", summary="异议处理：价格异议", body="先认同客户，再拆分价格",
                                 stage="objection_handling", tags=["价格异议"])
    partial = await harness.listed(title="价格怎么报", summary="报价技巧", body="客户问价格时先讲价值",
                                   stage="quoting", tags=["报价"])
    unrelated = await harness.listed(title="开场白三句话", summary="开场", body="您好，我是阳光保险的", stage="opening",
                                     tags=["开场"])
    found = await ids(harness, q="客户嫌贵")
    assert found[0] == exact and unrelated not in found
    assert set(await ids(harness, q="价格")) == {exact, partial}  # one token each: equal scores
    scored = (await harness.http.get("/v1/tips", params={"q": "拆分价格"})).json()["items"]
    assert scored[0]["tip_id"] == exact and scored[0]["score"] > scored[1]["score"] >= 1
    assert await ids(harness, q="开场白") == [unrelated]
    assert set(await ids(harness, q="价")) == {exact, partial}  # a single character
    assert await ids(harness, q="保险") == [unrelated]  # from the body
    empty = await harness.http.get("/v1/tips", params={"q": "，。"})
    assert (empty.status_code, empty.json()["code"]) == (422, "empty_query")


async def test_ascii_words_are_matched_case_insensitively(harness: Harness) -> None:
    vip = await harness.listed(title="VIP客户续保", tags=["VIP"])
    plain = await harness.listed(title="普通续保")
    assert await ids(harness, q="vip") == [vip]
    assert await ids(harness, q="Vip 续保") == [vip, plain]  # two tokens matched, then one


async def test_filters_by_stage_product_line_tag_and_author(harness: Harness) -> None:
    a = await harness.listed(stage="opening", product_line="car-insurance", tags=["开场", "续保"])
    b = await harness.listed(author="wang-wu", stage="closing", product_line="health", tags=["促成"])
    c = await harness.listed(stage="closing", product_line="car-insurance", tags=["促成", "续保"])
    await harness.draft(stage="closing")  # never listed: never found
    assert set(await ids(harness, stage="closing")) == {b, c}
    assert set(await ids(harness, product_line="car-insurance")) == {a, c}
    assert set(await ids(harness, tag="续保")) == {a, c}
    assert await ids(harness, tag=["续保", "促成"]) == [c]
    assert await ids(harness, author_id="wang-wu") == [b]
    assert set(await ids(harness, stage="closing", q="报价三步法")) == {b, c}


async def test_sorts_by_rating_sales_and_recency(harness: Harness) -> None:
    first = await harness.listed()
    second = await harness.listed()
    third = await harness.listed()
    assert await ids(harness) == [third, second, first]  # recency by default
    for buyer in ("li-si", "wang-wu"):
        await harness.bought(second, buyer)
    await harness.bought(first, "li-si")
    assert await ids(harness, sort="sales") == [second, first, third]
    await harness.http.post(f"/v1/tips/{first}/ratings", json={"stars": 5}, headers=harness.as_user("li-si"))
    await harness.http.post(f"/v1/tips/{second}/ratings", json={"stars": 3}, headers=harness.as_user("li-si"))
    await harness.http.post(f"/v1/tips/{second}/ratings", json={"stars": 4}, headers=harness.as_user("wang-wu"))
    tips = (await harness.http.get("/v1/tips", params={"sort": "rating"})).json()["items"]
    assert [(t["tip_id"], t["rating"], t["ratings"]) for t in tips] == [(first, 5.0, 1), (second, 3.5, 2),
                                                                        (third, None, 0)]


@pytest.mark.parametrize("sort", ["recency", "sales", "rating", "relevance"])
async def test_cursor_pages_cover_every_tip_once(harness: Harness, sort: str) -> None:
    made = [await harness.listed(title=f"报价话术{i}") for i in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3, "sort": sort, "q": "报价话术"}
        if cursor:
            params["cursor"] = cursor
        page = (await harness.http.get("/v1/tips", params=params)).json()
        seen += [t["tip_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 7
    bad = await harness.http.get("/v1/tips", params={"cursor": "garbage", "sort": sort, "q": "报价"})
    assert (bad.status_code, bad.json()["code"]) == (400, "bad_cursor")


async def test_rating_pages_reach_the_unrated_tips_after_the_rated_ones(harness: Harness) -> None:
    made = [await harness.listed(title=f"话术{i}") for i in range(5)]
    for tip_id, stars in zip(made[:2], (5, 3), strict=True):
        await harness.bought(tip_id, "li-si")
        await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": stars}, headers=harness.as_user("li-si"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 2, "sort": "rating"}
        if cursor:
            params["cursor"] = cursor
        page = (await harness.http.get("/v1/tips", params=params)).json()
        seen += [t["tip_id"] for t in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen[:2] == made[:2] and sorted(seen[2:]) == sorted(made[2:]) and len(seen) == 5


async def test_another_replica_finds_listings_through_the_change_stream(harness: Harness) -> None:
    """A second replica's index (its own feed on the same database) loads what is listed when it starts
    and follows what another replica lists and delists afterwards, without that replica's local refresh."""
    before = await harness.listed(title="甲乙丙丁开场白")
    other = SearchIndexFeed(harness.store)
    await other.start()
    try:
        def found(q: str) -> list[str]:
            return [h.tip_id for h in other.index.search(harness.tenant, domain.query_tokens(q), {}, limit=10)]

        assert found("甲乙丙") == [before]
        after = await harness.listed(title="戊己庚辛促成话术", stage="closing")
        await wait_until(lambda: asyncio.sleep(0, found("庚辛")), timeout=10)
        assert found("庚辛") == [after]
        response = await harness.http.post(f"/v1/tips/{after}/delist", headers=harness.as_user("zhang-san"))
        assert response.status_code == 200, response.text
        await wait_until(lambda: asyncio.sleep(0, not found("庚辛")), timeout=10)
        assert other.changes_applied >= 2
    finally:
        await other.stop()


async def test_a_relevance_cursor_with_a_wrong_score_is_refused(harness: Harness) -> None:
    await harness.listed(title="报价三步法")
    await harness.listed(title="报价两步法")
    first = (await harness.http.get("/v1/tips", params={"q": "报价", "limit": 1})).json()
    value = json.loads(base64.urlsafe_b64decode(first["next_cursor"] + "=="))
    forged = base64.urlsafe_b64encode(json.dumps(["relevance", "many", value[2]]).encode()).decode()
    response = await harness.http.get("/v1/tips", params={"q": "报价", "cursor": forged})
    assert (response.status_code, response.json()["code"]) == (400, "bad_cursor")


async def test_tips_stored_before_rating_rank_existed_get_it_at_start(harness: Harness) -> None:
    rated, unrated = await harness.listed(), await harness.listed()
    tips = harness.store.tips
    await tips.update_one({"tenant_id": harness.tenant, "tip_id": rated},
                          {"$set": {"rating_avg": 4.5}, "$unset": {"rating_rank": ""}})
    await tips.update_one({"tenant_id": harness.tenant, "tip_id": unrated}, {"$unset": {"rating_rank": ""}})
    await harness.store.ensure_indexes()
    ranks = {d["tip_id"]: d["rating_rank"] async for d in tips.find({"tenant_id": harness.tenant})}
    assert ranks == {rated: 4.5, unrated: -1}
    assert await ids(harness, sort="rating") == [rated, unrated]
