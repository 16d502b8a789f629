"""Learning, ratings, forwards, visits and the daily-active signal over HTTP on the real MongoDB."""

from __future__ import annotations

from marketplace_support import ALL_PASS, Harness


async def learn(harness: Harness, tip_id: str, session: str, progress: int, seconds: int,
                user: str = "li-si") -> dict:
    response = await harness.http.post(f"/v1/tips/{tip_id}/learning", headers=harness.as_user(user), json={
        "session_id": session, "progress_percent": progress, "session_seconds": seconds})
    assert response.status_code == 200, response.text
    return response.json()


async def test_learning_needs_a_purchase_and_counts_progress_watch_time_and_rewatches(harness: Harness) -> None:
    tip_id = await harness.listed()
    refused = await harness.http.post(f"/v1/tips/{tip_id}/learning", headers=harness.as_user("li-si"),
                                      json={"session_id": "s1", "progress_percent": 10, "session_seconds": 5})
    assert (refused.status_code, refused.json()["code"]) == (403, "not_bought")
    pending = await harness.buy(tip_id, "li-si")
    refused = await harness.http.post(f"/v1/tips/{tip_id}/learning", headers=harness.as_user("li-si"),
                                      json={"session_id": "s1", "progress_percent": 10, "session_seconds": 5})
    assert refused.status_code == 403  # asked, not paid
    await harness.ledger_posts(pending)

    first = await learn(harness, tip_id, "s1", 40, 60)
    assert (first["progress_percent"], first["watched_seconds"], first["learned"]) == (40, 60, False)
    retried = await learn(harness, tip_id, "s1", 40, 60)
    assert retried["watched_seconds"] == 60
    done = await learn(harness, tip_id, "s1", 95, 150)
    assert (done["learned"], done["watched_seconds"], done["tips_learned"]) == (True, 150, 1)
    rewatch = await learn(harness, tip_id, "s2", 20, 30)
    assert (rewatch["rewatch"], rewatch["rewatches"], rewatch["watched_seconds"], rewatch["tips_learned"]) == (
        True, 1, 180, 1)
    await harness.relay()
    events = harness.of("marketplace.learn-progressed.v1")
    assert [(e["data"]["progress_percent"], e["data"]["rewatch"]) for e in events] == [
        (40, False), (40, False), (95, False), (95, True)]


async def test_a_deep_learner_is_flagged_once_at_seven_tips_and_over_twenty_minutes(harness: Harness) -> None:
    tips = [await harness.listed(title=f"锦囊{i}") for i in range(8)]
    for tip_id in tips:
        await harness.bought(tip_id, "li-si")
    for tip_id in tips[:6]:
        result = await learn(harness, tip_id, "s1", 100, 300)
    assert (result["tips_learned"], result["deep_learner"]) == (6, False)  # 30 minutes, but 6 tips
    result = await learn(harness, tips[6], "s1", 100, 10)
    assert (result["tips_learned"], result["total_watched_seconds"], result["deep_learner"]) == (7, 1810, True)
    await learn(harness, tips[7], "s1", 100, 100)
    learner = (await harness.http.get("/v1/learners/li-si")).json()
    assert (learner["tips_learned"], learner["deep_learner"]) == (8, True)
    await harness.relay()
    [flag] = harness.of("marketplace.deep-learner-flagged.v1")
    assert (flag["data"]["user_id"], flag["data"]["tips_learned"], flag["data"]["min_tips"]) == ("li-si", 7, 7)


async def test_seven_tips_in_twenty_minutes_exactly_is_not_deep(harness: Harness) -> None:
    tips = [await harness.listed(title=f"锦囊{i}") for i in range(7)]
    for tip_id in tips:
        await harness.bought(tip_id, "li-si")
    for i, tip_id in enumerate(tips):
        result = await learn(harness, tip_id, "s1", 100, 180 if i < 6 else 120)
    assert (result["tips_learned"], result["total_watched_seconds"], result["deep_learner"]) == (7, 1200, False)


async def test_a_buyer_rates_each_version_once(harness: Harness) -> None:
    tip_id = await harness.listed()
    refused = await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": 5}, headers=harness.as_user("li-si"))
    assert (refused.status_code, refused.json()["code"]) == (403, "not_bought")
    await harness.bought(tip_id, "li-si")
    rated = await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": 4, "comment": "很实用"}, headers=harness.as_user("li-si"))
    assert rated.status_code == 201 and rated.json()["version"] == 1
    twice = await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": 1}, headers=harness.as_user("li-si"))
    assert (twice.status_code, twice.json()["code"]) == (409, "already_rated")
    bad = await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": 6}, headers=harness.as_user("li-si"))
    assert bad.status_code == 422

    await harness.http.post(f"/v1/tips/{tip_id}/versions", json={"body": "v2"}, headers=harness.as_user("zhang-san"))
    await harness.submit(tip_id, 2)
    await harness.approve(tip_id, 2)
    again = await harness.http.post(f"/v1/tips/{tip_id}/ratings", json={"stars": 2}, headers=harness.as_user("li-si"))
    assert again.status_code == 201 and again.json()["version"] == 2
    tip = (await harness.http.get(f"/v1/tips/{tip_id}")).json()
    assert (tip["rating"], tip["ratings"]) == (3.0, 2)
    listed = (await harness.http.get(f"/v1/tips/{tip_id}/ratings")).json()
    assert [(r["version"], r["stars"]) for r in listed] == [(2, 2), (1, 4)]
    await harness.relay()
    assert [e["data"]["stars"] for e in harness.of("marketplace.tip-rated.v1")] == [4, 2]


async def test_forwarding_and_visits_are_announced(harness: Harness) -> None:
    tip_id = await harness.listed()
    forwarded = await harness.http.post(f"/v1/tips/{tip_id}/forwards", json={"to_user_id": "wang-wu", "note": "看看这个"},
                                        headers=harness.as_user("li-si"))
    assert forwarded.status_code == 201
    to_self = await harness.http.post(f"/v1/tips/{tip_id}/forwards", json={"to_user_id": "li-si"}, headers=harness.as_user("li-si"))
    assert (to_self.status_code, to_self.json()["code"]) == (422, "forward_to_self")
    visited = await harness.http.post(f"/v1/tips/{tip_id}/visits", headers=harness.as_user("wang-wu"))
    assert visited.status_code == 201
    await harness.relay()
    [forward] = harness.of("marketplace.tip-forwarded.v1")
    assert (forward["data"]["from_user_id"], forward["data"]["to_user_id"], forward["subject"]) == (
        "li-si", "wang-wu", "wang-wu")
    assert [e["data"]["user_id"] for e in harness.of("marketplace.tip-visited.v1")] == ["wang-wu"]


async def test_each_user_is_signalled_daily_active_once_with_the_first_activity(harness: Harness) -> None:
    tip_id = await harness.listed()
    await harness.http.post(f"/v1/tips/{tip_id}/visits", headers=harness.as_user("li-si"))
    await harness.http.post(f"/v1/tips/{tip_id}/visits", headers=harness.as_user("li-si"))
    await harness.bought(tip_id, "li-si")
    await learn(harness, tip_id, "s1", 10, 10)
    await harness.http.post(f"/v1/tips/{tip_id}/forwards", json={"to_user_id": "li-si"}, headers=harness.as_user("wang-wu"))
    await harness.relay()
    active = harness.of("marketplace.daily-active.v1")
    assert sorted((e["data"]["user_id"], e["data"]["first_activity"]) for e in active) == [
        ("li-si", "visit"), ("wang-wu", "forward")]


async def test_a_tips_funnel_counts_reviews_visits_sales_learners_forwards_and_rewatchers(harness: Harness) -> None:
    tip = await harness.draft()
    tip_id = tip["tip_id"]
    await harness.submit(tip_id, 1)
    await harness.http.post(f"/v1/tips/{tip_id}/versions/1/review", headers=harness.reviewer,
                            json={"checks": ALL_PASS | {"practical": False}})
    await harness.http.patch(f"/v1/tips/{tip_id}/versions/1", json={"body": "更具体的话术"}, headers=harness.as_user("zhang-san"))
    await harness.submit(tip_id, 1)
    await harness.approve(tip_id, 1)
    for user in ("li-si", "wang-wu", "zhao-liu", "qian-qi"):
        await harness.http.post(f"/v1/tips/{tip_id}/visits", headers=harness.as_user(user))
    for user in ("li-si", "wang-wu"):
        await harness.bought(tip_id, user)
        await learn(harness, tip_id, "s1", 100, 60, user=user)
    await learn(harness, tip_id, "s2", 10, 5, user="li-si")
    await learn(harness, tip_id, "s3", 10, 5, user="li-si")  # a second rewatch by the same buyer
    await harness.http.post(f"/v1/tips/{tip_id}/forwards", json={"to_user_id": "zhao-liu"}, headers=harness.as_user("li-si"))
    funnel = (await harness.http.get(f"/v1/tips/{tip_id}/funnel")).json()
    assert funnel == {"tip_id": tip_id, "reviews": 2, "approvals": 1, "visits": 4, "sales": 2, "learned": 2,
                      "forwards": 1, "rewatchers": 1, "ratings": 0, "review_pass_rate": 0.5, "purchase_rate": 0.5,
                      "learn_rate": 1.0, "forward_rate": 0.25, "rewatch_rate": 0.5}
