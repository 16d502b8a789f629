"""Key rotation of the allocator's personal data on the real database: a lead and a do-not-call listing stored
in plain text before encryption (the listing's `_id` naming the number), and a lead sealed under key `a`; with
`b` active the rotation job re-seals the leads and moves the listing to its blind index `_id` (keeping no number),
the later change of the number winning; afterwards a store without `a` finds and reads everything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from allocator.store import AllocatorStore
from telesales_runtime.pii_rotation import PiiRotation
from telesales_testkit.pii import keyring

T = "rot-tenant"
P0, P1 = "+8613900000011", "+8613900000012"


def store(db: AsyncDatabase[dict[str, Any]], *ring: str) -> AllocatorStore:
    """A store of the test's scratch database with a keyring of these key ids (the active one first)."""
    return AllocatorStore(db.client, db.name, "rotation-test", keyring=keyring(*ring))


async def test_legacy_listings_move_to_sealed_ids_and_leads_re_seal(scratch_db: AsyncDatabase[dict[str, Any]]) -> None:
    now = datetime.now(UTC)
    old = store(scratch_db, "a", "a")
    await old.ensure_indexes()
    await old.leads.insert_one({"_id": "L0", "tenant_id": T, "phone_e164": P0, "name": "旧张", "status": "pooled"})
    await old.insert_leads([{"_id": "L1", "tenant_id": T, "phone_e164": P1, "name": "新李", "status": "pooled"}], [])
    # P0 listed before encryption, then taken off under `a` later: the later change must win the move
    await old.do_not_call.insert_one({"_id": f"{T}|{P0}", "tenant_id": T, "phone_e164": P0, "listed": True,
                                      "changed_at": now - timedelta(hours=1)})
    assert await old.record_listing(tenant=T, phone_bidx=old.sealing.phone_index(T, P0), phone_masked="+86139****0011",
                                    listed=False, reason=None, source="operator", changed_at=now, event_id="e-later")
    await old.do_not_call.insert_one({"_id": f"{T}|{P1}", "tenant_id": T, "phone_e164": P1, "listed": True,
                                      "changed_at": now})
    assert await old.listed_numbers(T, [P0, P1]) == {P1}  # read from both while the copies coexist

    rotating = store(scratch_db, "b", "a", "b")
    job = PiiRotation(rotating.leases, rotating.sealing.rotation_targets(rotating.leads, rotating.do_not_call),
                      service="allocator-rotation-test", interval_seconds=1, lease_seconds=5, batch_size=2)
    assert await job.until_done() == 4  # the listing by blind index seals nothing: not stale

    raw = await rotating.leads.find().to_list() + await rotating.do_not_call.find().to_list()
    # leads sealed under `b`; the listings keep the blind index and the masked display, no number at all
    assert [tuple(doc["pii_kid"]) for doc in raw] == [("b",), ("b",), (), ()]
    assert sorted(doc["phone_masked"] for doc in raw[2:]) == ["+86139****0011", "+86139****0012"]
    assert not [s for s in (P0, P1, "旧张", "新李") if s in repr(raw)], raw

    after = store(scratch_db, "b", "b")
    assert await after.listed_numbers(T, [P0, P1]) == {P1}
    assert (await after.listing(T, P0))["event_id"] == "e-later"  # type: ignore[index]
    assert (await after.lead_by_phone(T, P0))["name"] == "旧张"  # type: ignore[index]
    assert [d["_id"] for d in await after.open_leads_with_number(T, after.sealing.phone_index(T, P1))] == ["L1"]


async def test_listings_with_the_number_sealed_keep_only_the_blind_index_after_start(
    scratch_db: AsyncDatabase[dict[str, Any]],
) -> None:
    before = store(scratch_db, "a", "a")
    sealed = before.sealing.listing.seal({"tenant_id": T, "phone_e164": P1})
    await before.do_not_call.insert_one({**sealed, "_id": before.sealing.listing_key(T, P1), "listed": True,
                                         "changed_at": datetime.now(UTC)})
    started = store(scratch_db, "a", "a")
    await started.ensure_indexes()
    [doc] = await started.do_not_call.find().to_list()
    assert (doc["phone_masked"], doc["pii_kid"], "phone_e164" in doc) == ("+86139****0012", [], False)
    assert doc["phone_e164_bidx"] == started.sealing.phone_index(T, P1) and "pii1." not in repr(doc)
    assert await started.listed_numbers(T, [P1]) == {P1}
    assert await started.index_only_listings() == 0
