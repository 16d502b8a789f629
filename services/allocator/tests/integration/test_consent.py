"""Consent at the allocator on the real MongoDB and Redis (in-memory broker): the lead keeps the person's
consent and its view shows it; a withdrawal of telemarketing (leads.consent-changed.v1) closes the lead for
good, held or pooled, once however often it comes, and a later arrival of the person does not reopen it; an
older change does not undo a newer one; a change read before its lead is applied when the lead arrives."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from allocator_support import Harness

GIVEN = "2026-11-20T10:00:00+08:00"


def scope(name: str, granted: bool = True, statement: str = "我同意接收课程电话推荐") -> dict[str, Any]:
    return {"scope": name, "granted": granted, "given_at": GIVEN, "statement": statement, "evidence": "rec-9",
            "source": "/crm/x", "event_id": "e-1"}


def changed(lead_id: str, consent: list[dict[str, Any]], *, withdrawn: list[str] = (), at: datetime | None = None,
            ) -> dict[str, Any]:
    return {"lead_id": lead_id, "consent": consent, "granted": [], "withdrawn": list(withdrawn),
            "changed_at": (at or datetime.now(UTC)).isoformat()}


async def test_the_lead_view_shows_what_the_person_agreed_to(harness: Harness) -> None:
    await harness.agent("a1")
    [lead_id] = await harness.pooled(consent=[scope("telemarketing"), scope("sms")])
    assert (await harness.claim("a1")).json()["claimed"] == 1
    view = (await harness.http.get(f"/v1/leads/{lead_id}", headers=harness.as_actor("a1"))).json()
    assert [(c["scope"], c["granted"], c["statement"], c["evidence"]) for c in view["consent"]] == [
        ("telemarketing", True, "我同意接收课程电话推荐", "rec-9"), ("sms", True, "我同意接收课程电话推荐", "rec-9")]
    [without] = await harness.pooled()
    assert (await harness.http.get(f"/v1/leads/{without}")).json()["consent"] == []


async def test_a_withdrawal_closes_a_held_lead_for_good_once_and_a_later_arrival_does_not_reopen_it(
        harness: Harness) -> None:
    await harness.agent("a1")
    [held] = await harness.pooled(consent=[scope("telemarketing")])
    assert (await harness.claim("a1")).json()["claimed"] == 1
    no = changed(held, [scope("telemarketing", granted=False, statement="请不要再打电话")], withdrawn=["telemarketing"])
    event_id = await harness.send("leads.consent-changed.v1", no)
    await harness.send("leads.consent-changed.v1", no, event_id=event_id)  # redelivered
    await harness.send("leads.consent-changed.v1", no)  # sent again under another id
    lead = await harness.lead(held)
    assert (lead["status"], lead["holder"], lead["last_holder"]) == ("do_not_call", None, "a1")
    assert lead["consent"][0]["granted"] is False
    await harness.relay()
    closed = [e for e in harness.of("allocation.closed.v1") if e["data"]["lead_id"] == held]
    assert len(closed) == 1 and closed[0]["data"]["do_not_call"] is True
    assert "consent withdrawn" in closed[0]["data"]["reason"]
    touch = {"event_id": str(uuid.uuid4()), "source": "/web", "channel": "im", "channel_raw": None,
             "received_at": datetime.now(UTC).isoformat()}
    await harness.send("leads.merged.v1", {"lead_id": held, "matched_on": "phone", "touch": touch, "touches": 2})
    assert (await harness.lead(held))["status"] == "do_not_call"
    dial = await harness.http.post(f"/v1/leads/{held}/dial", json={}, headers=harness.as_actor("a1"))
    assert dial.status_code == 200 and dial.json()["reason"] == "do_not_call"


async def test_a_pooled_lead_leaves_the_pool_and_an_older_change_does_not_undo_it(harness: Harness) -> None:
    await harness.agent("a1")
    [pooled] = await harness.pooled(consent=[scope("telemarketing"), scope("sms")])
    now = datetime.now(UTC)
    await harness.send("leads.consent-changed.v1", changed(pooled, [scope("telemarketing", False), scope("sms")],
                                                           withdrawn=["telemarketing"], at=now))
    older = changed(pooled, [scope("telemarketing"), scope("sms")], at=now - timedelta(minutes=5))
    await harness.send("leads.consent-changed.v1", older)
    lead = await harness.lead(pooled)
    assert lead["status"] == "do_not_call" and lead["consent"][0]["granted"] is False
    assert (await harness.claim("a1")).json()["claimed"] == 0  # nothing left in the pool to claim


async def test_a_change_that_keeps_telemarketing_only_updates_the_consent(harness: Harness) -> None:
    [lead_id] = await harness.pooled(consent=[scope("telemarketing")])
    await harness.send("leads.consent-changed.v1", changed(lead_id, [scope("telemarketing"), scope("email", False)]))
    lead = await harness.lead(lead_id)
    assert lead["status"] == "pooled" and [c["scope"] for c in lead["consent"]] == ["telemarketing", "email"]


async def test_a_lead_qualified_with_telemarketing_withdrawn_is_stored_closed(harness: Harness) -> None:
    [lead_id] = await harness.pooled(consent=[scope("telemarketing", granted=False)])
    assert (await harness.lead(lead_id))["status"] == "do_not_call"


async def test_a_withdrawal_read_before_its_lead_is_applied_when_the_lead_arrives(harness: Harness) -> None:
    lead_id = uuid.uuid4().hex[:24]
    no = changed(lead_id, [scope("telemarketing", False, "请不要再打电话")], withdrawn=["telemarketing"])
    await harness.send("leads.consent-changed.v1", no)
    older_yes = changed(lead_id, [scope("telemarketing")], at=datetime.now(UTC) - timedelta(hours=1))
    await harness.send("leads.consent-changed.v1", older_yes)  # read later, said earlier: the withdrawal stands
    assert await harness.store.get_lead(harness.tenant, lead_id) is None
    # the lead as it was qualified, before the withdrawal: it must not be workable
    await harness.pooled(lead_id=lead_id, consent=[scope("telemarketing")])
    lead = await harness.lead(lead_id)
    assert lead["status"] == "do_not_call" and lead["consent"][0]["granted"] is False
    assert await harness.store.pending_consents(harness.tenant, [lead_id]) == []  # applied, forgotten
    await harness.relay()
    assert not harness.of("platform.dead-lettered.v1")
