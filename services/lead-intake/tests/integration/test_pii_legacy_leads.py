"""Leads stored before encryption (plain values, no key id) on the real database: the same person arriving again
(with fields beyond the contract, sealed on the touch) is merged into the legacy lead, which stays legacy (so the
rotation job still finds it) until the job seals it; afterwards the person is found by blind index alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from intake_support import Harness, lead
from lead_intake.domain.cleaning import standardize_phone
from telesales_contracts.topics import LEADS_RECEIVED
from telesales_runtime.consumer import Delivery
from telesales_runtime.pii_rotation import PiiRotation


def arrival(harness: Harness, data: dict) -> Delivery:
    event = LEADS_RECEIVED.event_model.model_validate(
        {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/tests", "type": LEADS_RECEIVED.event_type,
         "tenantid": harness.tenant, "data": data})
    return Delivery(event=event, record=None)


async def test_a_legacy_lead_is_merged_into_stays_legacy_and_is_sealed_by_the_job(harness: Harness) -> None:
    store = harness.intake.store
    person = lead(extra_id="wx-legacy")
    phone = standardize_phone(person["phone"], "CN").e164  # type: ignore[union-attr]
    await store.leads.insert_one({"_id": "legacy-1", "tenant_id": harness.tenant, "phone_e164": phone,
                                  "email": person["email"], "name": person["name"], "touches_count": 1,
                                  "touches": [], "received_at": datetime.now(UTC), "business_line": "education"})
    assert await harness.intake.handle_received([arrival(harness, person)]) == {"merged": 1}
    raw = await store.leads.find_one({"_id": "legacy-1"})
    assert raw is not None and raw["touches_count"] == 2 and "pii_kid" not in raw  # still legacy, for the job
    assert raw["touches"][0]["extra"].startswith("pii1.")  # the new touch's fields beyond the contract: sealed

    job = PiiRotation(store.leases, store.sealing.rotation_targets(store.leads, store.do_not_call),
                      service="lead-intake-legacy-test", interval_seconds=1, lease_seconds=5, batch_size=100)
    await job.until_done()
    raw = await store.leads.find_one({"_id": "legacy-1"})
    assert raw is not None and raw["pii_kid"] and raw["phone_e164"].startswith("pii1.") and raw["phone_e164_bidx"]
    assert await harness.intake.handle_received([arrival(harness, person)]) == {"merged": 1}  # by blind index now
    [stored] = await harness.leads()
    assert (stored["_id"], stored["phone_e164"], stored["touches_count"]) == ("legacy-1", phone, 3)
    assert [t["extra"] for t in stored["touches"]] == [{"extra_id": "wx-legacy"}] * 2
