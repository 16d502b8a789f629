"""The list and read routes on the real MongoDB (a real uvicorn server of the live channel)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from live_support import Replica, agent, new_tenant, replica

from console.notifications import Draft, NotificationKind
from console.settings import ConsoleSettings


@pytest.fixture(scope="module")
async def console(infra: Any) -> AsyncIterator[Replica]:
    settings = ConsoleSettings(kafka_bootstrap=infra.kafka_bootstrap, mongo_uri=infra.mongo_uri,
                               redis_url=infra.redis_url, mongo_db=f"test_console_{uuid.uuid4().hex[:8]}",
                               log_json=False, notification_channel=f"test:console:{uuid.uuid4().hex[:8]}")
    async with replica(settings) as running:
        yield running


async def given(console: Replica, tenant: str, user: str, count: int) -> None:
    await console.store.add([Draft(tenant=tenant, user=user, event_id=f"ev-{n}", part=0,
                                   kind=NotificationKind.COINS_RECEIVED, subject={"source": "bonus", "amount": n},
                                   link="/wallet", at=datetime.now(UTC)) for n in range(1, count + 1)])


async def test_pages_newest_first_with_unread_counts_and_marking_read(console: Replica) -> None:
    tenant = new_tenant()
    await given(console, tenant, "li-si", 5)
    await given(console, tenant, "wang-wu", 2)
    me = agent("li-si", tenant)
    async with console.client() as http:
        page = (await http.get("/v1/notifications", params={"limit": 2}, headers=me)).json()
        assert [n["seq"] for n in page["items"]] == [5, 4] and page["unread"] == 5 and page["next_before"] == 4
        page = (await http.get("/v1/notifications", params={"limit": 2, "before": 4}, headers=me)).json()
        assert [n["seq"] for n in page["items"]] == [3, 2] and page["next_before"] == 2
        page = (await http.get("/v1/notifications", params={"limit": 2, "before": 2}, headers=me)).json()
        assert [n["seq"] for n in page["items"]] == [1] and page["next_before"] is None
        assert page["items"][0] | {"at": None} == {"seq": 1, "id": page["items"][0]["id"], "kind": "coins_received",
                                                   "subject": {"source": "bonus", "amount": 1}, "link": "/wallet",
                                                   "at": None, "read": False}

        assert (await http.post("/v1/notifications/4/read", headers=me)).status_code == 204
        assert (await http.post("/v1/notifications/4/read", headers=me)).status_code == 204  # again: no change
        unread = (await http.get("/v1/notifications", params={"unread": "true"}, headers=me)).json()
        assert [n["seq"] for n in unread["items"]] == [5, 3, 2, 1] and unread["unread"] == 4
        missing = await http.post("/v1/notifications/99/read", headers=me)
        assert (missing.status_code, missing.json()["code"]) == (404, "notification_not_found")

        marked = await http.post("/v1/notifications:read-all", headers=me)
        assert marked.json() == {"marked": 4}
        page = (await http.get("/v1/notifications", headers=me)).json()
        assert page["unread"] == 0 and all(n["read"] for n in page["items"])
        # The colleague's notifications were not touched.
        theirs = (await http.get("/v1/notifications", headers=agent("wang-wu", tenant))).json()
        assert theirs["unread"] == 2

        bad = await http.get("/v1/notifications", params={"limit": 0}, headers=me)
        assert bad.status_code == 422
        assert (await http.get("/v1/notifications")).status_code == 401


async def test_a_redelivered_batch_stores_nothing_twice_and_seqs_stay_gapless(console: Replica) -> None:
    tenant = new_tenant()
    await given(console, tenant, "zhao-liu", 3)
    await given(console, tenant, "zhao-liu", 4)  # ev-1..ev-3 again, ev-4 new
    async with console.client() as http:
        page = (await http.get("/v1/notifications", headers=agent("zhao-liu", tenant))).json()
    assert [n["seq"] for n in page["items"]] == [4, 3, 2, 1]
    assert [n["subject"]["amount"] for n in page["items"]] == [4, 3, 2, 1]


async def test_a_batch_for_many_users_numbers_each_users_notifications_on_from_its_own_counter(
        console: Replica) -> None:
    """One consumer batch carries notifications of many users (pushes to a floor): every user's counter moves
    in one bulk write and each user's seqs follow on from its last, whatever else the batch holds."""
    tenant = new_tenant()
    await given(console, tenant, "user-0", 2)

    def draft(user: str, n: int) -> Draft:
        return Draft(tenant=tenant, user=user, event_id=f"batch-{user}-{n}", part=0,
                     kind=NotificationKind.COINS_RECEIVED, subject={"source": "bonus", "amount": n}, link="/wallet",
                     at=datetime.now(UTC))

    stored = await console.store.add([draft(f"user-{u}", n) for n in range(3) for u in range(150)])
    seqs: dict[str, list[int]] = {}
    for _tenant, user, notification in stored:
        seqs.setdefault(user, []).append(notification.seq)
    assert len(stored) == 450 and len(seqs) == 150
    assert seqs["user-0"] == [3, 4, 5]
    assert all(seqs[f"user-{u}"] == [1, 2, 3] for u in range(1, 150))
    assert await console.store.add([draft("user-7", 1)]) == []  # the same notification again adds nothing
