"""Tips over HTTP on the real MongoDB: the review workflow with its events, versions, media in GridFS
streamed with Range requests."""

from __future__ import annotations

from marketplace_support import ALL_PASS, Harness, tip_body


async def test_draft_submit_approve_lists_the_tip_and_announces_each_step(harness: Harness) -> None:
    draft = await harness.draft()
    tip_id = draft["tip_id"]
    assert (draft["version"], draft["status"], draft["body"]) == (1, "draft", tip_body()["body"])
    tip = (await harness.http.get(f"/v1/tips/{tip_id}")).json()
    assert (tip["status"], tip["listed_version"], tip["title"]) == ("unlisted", None, None)

    submitted = await harness.submit(tip_id, 1)
    assert submitted["status"] == "submitted"
    queue = (await harness.http.get("/v1/review-queue", headers=harness.reviewer)).json()
    assert [(v["tip_id"], v["version"]) for v in queue] == [(tip_id, 1)]
    approved = await harness.approve(tip_id, 1)
    assert approved["status"] == "approved" and approved["review"]["failed_checks"] == []

    tip = (await harness.http.get(f"/v1/tips/{tip_id}")).json()
    assert (tip["status"], tip["listed_version"], tip["title"], tip["price"]) == ("listed", 1, "报价三步法", 30)
    await harness.relay()
    assert [e["data"]["version"] for e in harness.of("marketplace.tip-submitted.v1")] == [1]
    reviewed = harness.of("marketplace.tip-reviewed.v1")
    assert [(e["data"]["decision"], e["data"]["reviewer_id"]) for e in reviewed] == [("approved", "reviewer-1")]
    listed = harness.of("marketplace.tip-listed.v1")
    assert [(e["data"]["tip_id"], e["data"]["replaced_version"], e["subject"]) for e in listed] == [
        (tip_id, None, tip_id)]


async def test_a_rejection_names_the_failed_checks_and_the_author_fixes_and_resubmits(harness: Harness) -> None:
    tip_id = (await harness.draft())["tip_id"]
    await harness.submit(tip_id, 1)
    rejected = await harness.http.post(f"/v1/tips/{tip_id}/versions/1/review", headers=harness.reviewer, json={
        "checks": ALL_PASS | {"no_customer_data": False}, "comment": "去掉客户电话"})
    assert rejected.status_code == 200
    assert (rejected.json()["status"], rejected.json()["review"]["failed_checks"]) == ("rejected", ["no_customer_data"])
    assert (await harness.http.get(f"/v1/tips/{tip_id}")).json()["status"] == "unlisted"

    fixed = await harness.http.patch(f"/v1/tips/{tip_id}/versions/1", json={"body": "不含客户信息的话术"}, headers=harness.as_user("zhang-san"))
    assert (fixed.json()["status"], fixed.json()["body"]) == ("draft", "不含客户信息的话术")
    await harness.submit(tip_id, 1)
    await harness.approve(tip_id, 1)
    await harness.relay()
    assert [e["data"]["decision"] for e in harness.of("marketplace.tip-reviewed.v1")] == ["rejected", "approved"]
    assert harness.of("marketplace.tip-reviewed.v1")[0]["data"]["failed_checks"] == ["no_customer_data"]


async def test_workflow_rules_are_problems_with_stable_codes(harness: Harness) -> None:
    tip_id = (await harness.draft())["tip_id"]
    cases = [
        (harness.http.post(f"/v1/tips/{tip_id}/versions/1/review", json={"checks": ALL_PASS}, headers=harness.reviewer),
         409, "not_submitted"),
        (harness.http.post(f"/v1/tips/{tip_id}/versions/1/submit", headers=harness.as_user("li-si")), 403, "not_author"),
        (harness.http.post(f"/v1/tips/{tip_id}/versions", json={}, headers=harness.as_user("zhang-san")), 409, "version_in_progress"),
        (harness.http.post(f"/v1/tips/{tip_id}/delist", headers=harness.as_user("zhang-san")), 409, "not_listed"),
        (harness.http.post("/v1/tips/nope/versions/1/submit", headers=harness.as_user("zhang-san")), 404, "unknown_tip"),
        (harness.http.post("/v1/tips", json=tip_body(id=tip_id), headers=harness.as_user("zhang-san")), 409, "tip_exists"),
        (harness.http.post("/v1/tips", json=tip_body(), headers={"Authorization": ""}), 401, "unauthorized"),
    ]
    for call, status, code in cases:
        response = await call
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json().get("code") == code
    await harness.submit(tip_id, 1)
    own = await harness.http.post(f"/v1/tips/{tip_id}/versions/1/review", json={"checks": ALL_PASS},
                                  headers=harness.as_("operator", "zhang-san"))
    assert (own.status_code, own.json()["code"]) == (409, "own_tip")
    agent = await harness.http.post(f"/v1/tips/{tip_id}/versions/1/review", json={"checks": ALL_PASS},
                                    headers=harness.as_user("li-si"))
    assert (agent.status_code, agent.json()["code"]) == (403, "forbidden_role")
    partial = await harness.http.post(f"/v1/tips/{tip_id}/versions/1/review", json={"checks": {"accurate": True}},
                                      headers=harness.reviewer)
    assert (partial.status_code, partial.json()["code"]) == (422, "invalid_checklist")
    edit = await harness.http.patch(f"/v1/tips/{tip_id}/versions/1", json={"price": 10}, headers=harness.as_user("zhang-san"))
    assert (edit.status_code, edit.json()["code"]) == (409, "version_not_editable")


async def test_a_new_version_is_reviewed_while_the_listed_one_stays_listed(harness: Harness) -> None:
    tip_id = await harness.listed()
    v2 = await harness.http.post(f"/v1/tips/{tip_id}/versions", json={"title": "报价三步法（升级版）", "price": 40},
                                 headers=harness.as_user("zhang-san"))
    assert v2.status_code == 201
    assert (v2.json()["version"], v2.json()["status"], v2.json()["body"]) == (2, "draft", tip_body()["body"])
    await harness.submit(tip_id, 2)
    tip = (await harness.http.get(f"/v1/tips/{tip_id}")).json()
    assert (tip["listed_version"], tip["title"], tip["price"], tip["latest_version"]) == (1, "报价三步法", 30, 2)
    rejected = await harness.http.post(f"/v1/tips/{tip_id}/versions/2/review", headers=harness.reviewer,
                                       json={"checks": ALL_PASS | {"accurate": False}})
    assert rejected.json()["status"] == "rejected"
    assert (await harness.http.get(f"/v1/tips/{tip_id}")).json()["listed_version"] == 1
    await harness.http.patch(f"/v1/tips/{tip_id}/versions/2", json={"price": 35}, headers=harness.as_user("zhang-san"))
    await harness.submit(tip_id, 2)
    await harness.approve(tip_id, 2)
    tip = (await harness.http.get(f"/v1/tips/{tip_id}")).json()
    assert (tip["listed_version"], tip["title"], tip["price"]) == (2, "报价三步法（升级版）", 35)
    await harness.relay()
    assert [(e["data"]["version"], e["data"]["replaced_version"]) for e in harness.of("marketplace.tip-listed.v1")] == [
        (1, None), (2, 1)]
    versions = (await harness.http.get(f"/v1/tips/{tip_id}/versions", headers=harness.as_user("zhang-san"))).json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "approved"), (2, "approved")]


async def test_delisting_takes_the_tip_off_sale_and_announces_it(harness: Harness) -> None:
    tip_id = await harness.listed()
    other = await harness.http.post(f"/v1/tips/{tip_id}/delist", headers=harness.as_user("li-si"))
    assert (other.status_code, other.json()["code"]) == (403, "not_author")
    response = await harness.http.post(f"/v1/tips/{tip_id}/delist", json={"reason": "产品已停售"}, headers=harness.as_user("zhang-san"))
    assert response.status_code == 200 and response.json()["status"] == "delisted"
    found = (await harness.http.get("/v1/tips", params={"q": "报价"})).json()["items"]
    assert tip_id not in [t["tip_id"] for t in found]
    buy = await harness.http.post(f"/v1/tips/{tip_id}/purchases", headers=harness.as_user("li-si"))
    assert (buy.status_code, buy.json()["code"]) == (409, "not_listed")
    await harness.relay()
    assert [(e["data"]["delisted_by"], e["data"]["reason"]) for e in harness.of("marketplace.tip-delisted.v1")] == [
        ("zhang-san", "产品已停售")]


async def test_media_is_stored_in_gridfs_and_served_with_ranges(harness: Harness) -> None:
    tip_id = (await harness.draft())["tip_id"]
    media = bytes(range(256)) * 20  # 5,120 bytes: several GridFS chunks of 1 KB in these tests
    uploaded = await harness.http.put(f"/v1/tips/{tip_id}/versions/1/media", params={"filename": "pitch.mp4"},
                                      content=media, headers=harness.as_user("zhang-san") | {"Content-Type": "video/mp4"})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["media"] == {"content_type": "video/mp4", "length": 5120, "filename": "pitch.mp4"}
    await harness.submit(tip_id, 1)
    await harness.approve(tip_id, 1)

    whole = await harness.http.get(f"/v1/tips/{tip_id}/media", headers=harness.as_user("zhang-san"))
    assert (whole.status_code, whole.content, whole.headers["accept-ranges"]) == (200, media, "bytes")
    assert whole.headers["content-type"] == "video/mp4"
    part = await harness.http.get(f"/v1/tips/{tip_id}/media", headers=harness.as_user("zhang-san") | {"Range": "bytes=1000-3099"})
    assert part.status_code == 206
    assert part.content == media[1000:3100]
    assert part.headers["content-range"] == "bytes 1000-3099/5120"
    assert part.headers["content-length"] == "2100"
    tail = await harness.http.get(f"/v1/tips/{tip_id}/media", headers=harness.as_user("zhang-san") | {"Range": "bytes=-10"})
    assert (tail.status_code, tail.content) == (206, media[-10:])
    bad = await harness.http.get(f"/v1/tips/{tip_id}/media", headers=harness.as_user("zhang-san") | {"Range": "bytes=6000-"})
    assert bad.status_code == 416
    assert bad.headers["content-range"] == "bytes */5120"
    assert bad.json()["code"] == "range_not_satisfiable"

    stranger = await harness.http.get(f"/v1/tips/{tip_id}/media", headers=harness.as_user("li-si"))
    assert (stranger.status_code, stranger.json()["code"]) == (403, "not_bought")
    reviewer = await harness.http.get(f"/v1/tips/{tip_id}/versions/1/media", headers=harness.reviewer | {"Range": "bytes=0-0"})
    assert (reviewer.status_code, reviewer.content) == (206, media[:1])
    locked = await harness.http.put(f"/v1/tips/{tip_id}/versions/1/media", content=b"x", headers=harness.as_user("zhang-san"))
    assert (locked.status_code, locked.json()["code"]) == (409, "version_not_editable")


async def test_replacing_a_drafts_media_deletes_the_old_file_unless_another_version_uses_it(harness: Harness) -> None:
    tip_id = (await harness.draft())["tip_id"]
    await harness.http.put(f"/v1/tips/{tip_id}/versions/1/media", content=b"first", headers=harness.as_user("zhang-san"))
    first = (await harness.store.version(harness.tenant, tip_id, 1))["media"]["file_id"]
    await harness.http.put(f"/v1/tips/{tip_id}/versions/1/media", content=b"second", headers=harness.as_user("zhang-san"))
    assert await harness.store.db["media.files"].count_documents({"_id": first}) == 0
    await harness.submit(tip_id, 1)
    await harness.approve(tip_id, 1)
    await harness.http.post(f"/v1/tips/{tip_id}/versions", json={}, headers=harness.as_user("zhang-san"))
    shared = (await harness.store.version(harness.tenant, tip_id, 2))["media"]["file_id"]
    await harness.http.put(f"/v1/tips/{tip_id}/versions/2/media", content=b"third", headers=harness.as_user("zhang-san"))
    assert await harness.store.db["media.files"].count_documents({"_id": shared}) == 1  # version 1 keeps it
    listed = await harness.http.get(f"/v1/tips/{tip_id}/media", headers=harness.as_user("zhang-san"))
    assert listed.content == b"second"


async def test_empty_and_oversized_media_are_refused_and_leave_nothing_behind(harness: Harness) -> None:
    tip_id = (await harness.draft())["tip_id"]
    empty = await harness.http.put(f"/v1/tips/{tip_id}/versions/1/media", content=b"", headers=harness.as_user("zhang-san"))
    assert (empty.status_code, empty.json()["code"]) == (422, "empty_media")
    limit = harness.market.settings.media_max_bytes
    harness.market.settings.media_max_bytes = 2048
    try:
        big = await harness.http.put(f"/v1/tips/{tip_id}/versions/1/media", content=b"x" * 5000, headers=harness.as_user("zhang-san"))
    finally:
        harness.market.settings.media_max_bytes = limit
    assert (big.status_code, big.json()["code"]) == (413, "media_too_large")
    files = await harness.store.db["media.files"].count_documents({"metadata.tip_id": tip_id})
    chunks = await harness.store.db["media.chunks"].count_documents({})
    assert files == 0
    assert (await harness.store.version(harness.tenant, tip_id, 1))["media"] is None
    assert chunks == await harness.store.db["media.chunks"].count_documents(
        {"files_id": {"$in": await harness.store.db["media.files"].distinct("_id")}})  # no orphaned chunks


async def test_the_openapi_document_and_the_checklist_are_served(harness: Harness) -> None:
    spec = await harness.http.get("/openapi.json")
    assert spec.status_code == 200
    assert "/v1/tips/{tip_id}/purchases" in spec.json()["paths"]
    checklist = (await harness.http.get("/v1/review-checklist")).json()
    assert set(checklist) == set(ALL_PASS)
