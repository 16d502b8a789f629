"""lead-intake's do-not-call list on the real MongoDB (in-memory broker): it keeps a number only as its blind
index and a masked display, never the number (sealed or not), also after its person was erased, and still
refuses the number; entries from before (the plain number, or the number sealed) are rewritten at start."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from intake_support import Harness, lead
from lead_intake.store import LeadStore
from telesales_contracts.topics import LEADS_COMPLAINT, LEADS_REJECTED
from telesales_testkit.pii import keyring

NUMBER = "+8613924681357"
# The number in every way it may be written; the middle digits the masked display hides, alone.
WRITTEN_FORMS = re.compile(r"13924681357|139[ -]?2468[ -]?1357|2468")


def no_number_in(docs: Any) -> None:
    text = json.dumps(docs, default=str, ensure_ascii=False)
    assert not WRITTEN_FORMS.search(text), text


async def test_an_erased_person_s_number_stays_listed_as_a_blind_index_and_is_still_refused(harness: Harness) -> None:
    sent = (await harness.http.post("/v1/leads", json=lead())).json()
    lead_id = (await harness.http.get(sent["status_url"])).json()["lead_id"]
    await harness.send({"lead_id": lead_id, "reason": "张伟: stop calling 139 2468 1357"}, topic=LEADS_COMPLAINT.name)
    entry = (await harness.http.get("/v1/do-not-call/13924681357")).json()
    assert (entry["phone_masked"], entry["reason"]) == ("+86139****1357", "complaint: 张伟: stop calling 139****1357")
    asked = await harness.http.post("/v1/erasures", headers=harness.as_("operator", "op-1"),
                                    json={"phone": "139 2468 1357", "reason": "ticket 9"})
    assert asked.status_code == 202 and asked.json()["lead_ids"] == [lead_id], asked.text

    # the objection is still honoured: a new lead with the number is refused
    await harness.send(lead(name="张伟 again", email="zw2@example.cn"))
    await harness.relay()
    [rejected] = harness.of(LEADS_REJECTED.name)
    assert [r["code"] for r in rejected["data"]["reasons"]] == ["do_not_call"]
    assert (await harness.http.get("/v1/do-not-call/13924681357")).status_code == 200
    # and the list, stored or shown, holds the number in no written form: blind index and masked display only
    stored = await harness.intake.store.do_not_call.find({"tenant_id": harness.tenant}).to_list()
    # (the reason, free text that may name the person, went with the erasure)
    assert [(d["phone_e164_bidx"], d["phone_masked"], d["reason"]) for d in stored] == [
        (harness.intake.store.sealing.phone_index(harness.tenant, NUMBER), "+86139****1357", None)]
    assert "张伟" not in json.dumps(stored, default=str, ensure_ascii=False)
    assert "phone_e164" not in stored[0]
    no_number_in(stored)
    no_number_in((await harness.http.get("/v1/do-not-call")).json())
    # nor the inbox's answer to the complaint (it is kept, the person was erased)
    answers = await harness.intake.store.inbox.collection.find({"tenant_id": harness.tenant,
                                                                "outcome.status": "do_not_call"}).to_list()
    assert [a["outcome"]["phone_masked"] for a in answers] == ["+86139****1357"]
    no_number_in(answers)


async def test_entries_from_before_keep_only_the_blind_index_and_masked_display_after_start(
    scratch_db: AsyncDatabase[dict[str, Any]],
) -> None:
    tenant, plain, sealed = "dnc-t", "+8613900000011", "+8618600000022"
    now = datetime.now(UTC)
    before = LeadStore(scratch_db.client, scratch_db.name, "dnc-test", keyring=keyring("a", "a"))
    # the list as it was: a unique index of the numbers, an entry in plain text and one with the number sealed
    await before.do_not_call.create_index([("tenant_id", 1), ("phone_e164", 1)], unique=True)
    await before.do_not_call.insert_many([
        {"tenant_id": tenant, "phone_e164": plain, "reason": "call 139 0000 0011 no more", "added_at": now,
         "updated_at": now},
        {**before.sealing.listing.seal({"tenant_id": tenant, "phone_e164": sealed}), "reason": "asked",
         "added_at": now, "updated_at": now}])

    started = LeadStore(scratch_db.client, scratch_db.name, "dnc-test", keyring=keyring("a", "a"))
    await started.ensure_indexes()
    stored = await started.do_not_call.find({}, {"_id": 0}).to_list()
    assert sorted((d["phone_masked"], d["reason"], d["pii_kid"]) for d in stored) == [
        ("+86139****0011", "call 139****0011 no more", []), ("+86186****0022", "asked", [])]
    assert not any("phone_e164" in d for d in stored)
    text = json.dumps(stored, default=str)
    assert "13900000011" not in text and "18600000022" not in text and "pii1." not in text
    # still found, by blind index; a second entry of a number cannot be made
    assert await started.do_not_call_hits(tenant, [plain, sealed, "+8613900000099"]) == {plain, sealed}
    assert [e["phone_masked"] for e in await started.list_do_not_call(tenant, 10, None)] == [
        "+86139****0011", "+86186****0022"]
    assert await started.sealing.index_only_listings(started.do_not_call) == 0  # nothing left to rewrite
