"""Key rotation of lead-intake's personal data on the real database: leads and listings written in plain text
(before encryption) and under key `a`; `b` becomes active; the rotation job re-seals everything under `b` while
reads and writes go on, none failing; then `a` can go: a store without it reads everything."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import REGISTRY
from pymongo.asynchronous.database import AsyncDatabase

from lead_intake.domain import Listing, PutOnDoNotCall
from lead_intake.store import LeadStore
from telesales_runtime.pii_crypto import PiiKeyError
from telesales_runtime.pii_rotation import PiiRotation
from telesales_testkit.pii import keyring

T = "rot-tenant"
P0, P1, P2 = "+8613900000001", "+8613900000002", "+8613900000003"
# WeChat ids long enough that no ciphertext holds them by chance (a two-character "w1" turned up in the repr
# of one CI run's sealed bytes)
W0, W1 = "wxid_zhang_old_0", "wxid_li_new_1"


def store(db: AsyncDatabase[dict[str, Any]], *ring: str) -> LeadStore:
    """A store of the test's scratch database with a keyring of these key ids (the active one first)."""
    return LeadStore(db.client, db.name, "rotation-test", keyring=keyring(*ring))


async def test_rotation_re_seals_everything_while_reads_go_on_and_then_the_old_key_can_go(
    scratch_db: AsyncDatabase[dict[str, Any]],
) -> None:
    now = datetime.now(UTC)
    old = store(scratch_db, "a", "a")
    await old.ensure_indexes()
    await old.leads.insert_one({"_id": "L0", "tenant_id": T, "phone_e164": P0, "email": "l0@example.cn",
                                "name": "旧张", "touches_count": 1, "touches": [{"event_id": "e0",
                                                                                "extra": {"wechat": W0}}]})
    await old.do_not_call.insert_one({"tenant_id": T, "phone_e164": P0, "reason": "old", "added_at": now,
                                      "updated_at": now})
    sealed = old.sealing.leads.seal({"_id": "L1", "tenant_id": T, "phone_e164": P1, "email": None,
                                     "name": "新李", "touches_count": 1})
    await old.leads.insert_one({**sealed, "touches": [old.sealing.touch(T, {"event_id": "e1",
                                                                            "extra": {"wechat": W1}})]})
    # a listing as the list kept them before it kept blind indexes only: the number sealed under `a`
    await old.do_not_call.insert_one({**old.sealing.listing.seal({"tenant_id": T, "phone_e164": P1}),
                                      "reason": "under a", "added_at": now, "updated_at": now})
    with pytest.raises(PiiKeyError):  # what `a` sealed needs `a`
        await store(scratch_db, "b", "b").get_lead(T, "L1")

    rotating = store(scratch_db, "b", "a", "b")  # `b` active, `a` still there: the rolling restart
    job = PiiRotation(rotating.leases, rotating.sealing.rotation_targets(rotating.leads, rotating.do_not_call),
                      service="lead-intake-rotation-test", interval_seconds=1, lease_seconds=5, batch_size=1)
    reads = 0

    async def keep_reading() -> None:
        nonlocal reads
        while True:
            found = await rotating.find_matches(T, [P0, P1], [], [])
            assert sorted((m.lead_id, m.phone_e164) for m in found) == [("L0", P0), ("L1", P1)]
            lead = await rotating.get_lead(T, "L0")
            assert lead is not None and lead["touches"][0]["extra"] == {"wechat": W0}
            assert await rotating.do_not_call_hits(T, [P0, P1]) == {P0, P1}
            reads += 1
            await asyncio.sleep(0)

    reader = asyncio.create_task(keep_reading())
    await rotating.put_do_not_call(T, PutOnDoNotCall(Listing.of(P2, rotating.sealing.phone_index(T, P2),
                                                                "during the rotation")))
    resealed = await job.until_done()
    await asyncio.sleep(0.05)
    assert not reader.done(), reader.exception() if reader.done() else None
    reader.cancel()
    assert resealed == 4 and reads > 0
    labels = {"service": "lead-intake-rotation-test"}
    for collection in ("leads", "do_not_call"):
        assert REGISTRY.get_sample_value("telesales_pii_stale_documents", {**labels, "collection": collection}) == 0

    raw = await rotating.leads.find().to_list() + await rotating.do_not_call.find().to_list()
    # the listings keep no number at all (blind index and masked display): nothing sealed, no key id
    assert [tuple(doc["pii_kid"]) for doc in raw] == [("b",), ("b",), (), (), ()]
    assert sorted(doc["phone_masked"] for doc in raw[2:]) == ["+86139****0001", "+86139****0002", "+86139****0003"]
    assert not [s for s in (P0, P1, P2, "旧张", "新李", W0, W1, "l0@example.cn") if s in repr(raw)]

    after = store(scratch_db, "b", "b")  # `a` removed from the keyring
    assert (await after.get_lead(T, "L0"))["touches"][0]["extra"] == {"wechat": W0}  # type: ignore[index]
    assert (await after.get_lead(T, "L1"))["name"] == "新李"  # type: ignore[index]
    assert await after.do_not_call_hits(T, [P0, P1, P2]) == {P0, P1, P2}
    assert [m.lead_id for m in await after.find_matches(T, [P0], ["l0@example.cn"], [])] == ["L0"]
