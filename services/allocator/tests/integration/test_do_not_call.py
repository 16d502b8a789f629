"""The do-not-call list at the allocator on the real MongoDB and Redis (in-memory broker): a listing closes
the number's leads in every pool, pooled, held and closed, once however often it comes; an older change
does not undo a newer one; a lead arriving with a listed number, or stored while its number was being
listed, is never callable."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from allocator_support import Harness


def listing(harness: Harness, number: str, *, listed: bool = True, at: datetime | None = None) -> dict[str, object]:
    """A change as lead-intake publishes it: the number by its blind index and masked, never in full."""
    return {"phone_bidx": harness.store.sealing.phone_index(harness.tenant, number),
            "phone_masked": number[:6] + "****" + number[-4:], "listed": listed, "source": "operator",
            "reason": "stop", "changed_at": (at or datetime.now(UTC)).isoformat()}


def key_of(harness: Harness, number: str) -> bytes:
    return f"{harness.tenant}/{harness.store.sealing.phone_index(harness.tenant, number)}".encode()


def a_number() -> str:
    return "+86139" + str(uuid.uuid4().int)[:8]


async def test_a_listing_closes_the_number_s_leads_in_every_pool_once(harness: Harness) -> None:
    await harness.agent("a1")
    number = a_number()
    [held] = await harness.pooled(phone_e164=number, business_line="education")
    [pooled] = await harness.pooled(phone_e164=number, business_line="loans")
    [other] = await harness.pooled(business_line="loans")
    assert (await harness.claim("a1", "fresh")).json()["claimed"] == 1
    key = key_of(harness, number)  # lead-intake's key: the topic is compacted, so keys are needed
    event_id = await harness.send("leads.do-not-call.v1", listing(harness, number), key=key)
    await harness.send("leads.do-not-call.v1", listing(harness, number), key=key, event_id=event_id)  # again
    for lead_id in (held, pooled):
        lead = await harness.lead(lead_id)
        assert (lead["status"], lead["holder"]) == ("do_not_call", None), lead_id
    assert (await harness.lead(held))["last_holder"] == "a1"
    assert (await harness.lead(other))["status"] == "pooled"  # another number: untouched
    await harness.relay()
    [closed] = harness.of("allocation.closed.v1")
    assert (closed["data"]["lead_id"], closed["data"]["agent_id"], closed["data"]["do_not_call"]) == (
        held, "a1", True)
    dial = await harness.http.post(f"/v1/leads/{held}/dial", json={}, headers=harness.as_actor("a1"))
    assert dial.status_code == 200 and dial.json()["reason"] == "do_not_call"


async def test_an_older_change_does_not_undo_a_newer_one(harness: Harness) -> None:
    number = a_number()
    now = datetime.now(UTC)
    key = key_of(harness, number)
    await harness.send("leads.do-not-call.v1", listing(harness, number, at=now), key=key)
    await harness.send("leads.do-not-call.v1", listing(harness, number, listed=False, at=now - timedelta(minutes=1)),
                       key=key)
    assert await harness.store.listed_numbers(harness.tenant, [number]) == {number}
    [late] = await harness.pooled(phone_e164=number)
    assert (await harness.lead(late))["status"] == "do_not_call"  # listed on arrival
    await harness.send("leads.do-not-call.v1", listing(harness, number, listed=False, at=now + timedelta(minutes=1)),
                       key=key)
    assert await harness.store.listed_numbers(harness.tenant, [number]) == set()
    assert (await harness.lead(late))["status"] == "do_not_call"  # off the list: closed leads stay closed


async def test_a_lead_stored_while_its_number_was_being_listed_is_closed_right_after(harness: Harness) -> None:
    number = a_number()
    [lead_id] = await harness.pooled(phone_e164=number)
    # the listing is kept, but its sweep ran before this lead existed: what the arrival's second look is for
    await harness.store.record_listing(tenant=harness.tenant, phone_bidx=harness.store.sealing.phone_index(
        harness.tenant, number), phone_masked="+86139****0000", listed=True, reason="stop", source="operator",
        changed_at=datetime.now(UTC), event_id="e-1")
    doc = await harness.lead(lead_id)
    await harness.leads.close_listed_arrivals(harness.tenant, [doc], set())
    assert (await harness.lead(lead_id))["status"] == "do_not_call"


async def test_the_copy_of_the_list_keeps_no_number_and_a_record_from_before_is_still_honoured(
        harness: Harness) -> None:
    number, old = a_number(), a_number()
    [lead_id] = await harness.pooled(phone_e164=number)
    await harness.send("leads.do-not-call.v1", listing(harness, number), key=key_of(harness, number))
    assert (await harness.lead(lead_id))["status"] == "do_not_call"
    stored = await harness.store.do_not_call.find({"tenant_id": harness.tenant}).to_list()
    assert [(d["phone_e164_bidx"], d["phone_masked"]) for d in stored] == [
        (harness.store.sealing.phone_index(harness.tenant, number), number[:6] + "****" + number[-4:])]
    assert number not in repr(stored) and number[6:10] not in repr(stored)
    # a record lead-intake published before the topic was keyed by blind index (until the migration replaced
    # it) names the number: still read, by its blind index, and closes the number's leads
    [older] = await harness.pooled(phone_e164=old)
    await harness.send("leads.do-not-call.v1", {"phone_e164": old, "listed": True, "source": "complaint",
                                                "changed_at": datetime.now(UTC).isoformat()},
                       key=f"{harness.tenant}/{old}".encode())
    assert (await harness.lead(older))["status"] == "do_not_call"
    assert await harness.store.listed_numbers(harness.tenant, [number, old]) == {number, old}
    assert old not in repr(await harness.store.do_not_call.find({"tenant_id": harness.tenant}).to_list())


async def test_an_erasure_keeps_the_number_listed_and_drops_the_listing_s_reason(harness: Harness) -> None:
    from allocator.erasure import lead_eraser
    from telesales_runtime.mongo import in_transaction

    number = a_number()
    [lead_id] = await harness.pooled(phone_e164=number)
    await harness.send("leads.do-not-call.v1", listing(harness, number) | {"reason": "complaint: 张伟 said stop"},
                       key=key_of(harness, number))
    erase = lead_eraser(harness.store, source="/test")
    counts = await in_transaction(harness.store.client, lambda session: erase(harness.tenant, [lead_id], session))
    assert counts["do_not_call_reasons"] == 1
    assert await harness.store.listed_numbers(harness.tenant, [number]) == {number}  # the objection stays
    [stored] = await harness.store.do_not_call.find({"tenant_id": harness.tenant}).to_list()
    assert stored["reason"] is None and "张伟" not in repr(stored)
    [late] = await harness.pooled(phone_e164=number)  # the number arrives again: still kept out
    assert (await harness.lead(late))["status"] == "do_not_call"
