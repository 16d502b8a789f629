"""Consent in lead-intake on the real MongoDB (in-memory broker): a tenant requiring telemarketing consent,
and every way a lead without it might slip into the pools (no consent, only sms, a time from the future,
an import, a merge, a withdrawal later); the policy's API (who may change it, what it accepts)."""

from __future__ import annotations

from typing import Any

import pytest

from intake_support import Harness, lead
from telesales_contracts.topics import LEADS_CONSENT_CHANGED, LEADS_QUALIFIED, LEADS_REJECTED

BEFORE = "2026-11-20T10:00:00+08:00"  # the harness's events are of 2026-11-24T09:30+08:00


def consent(scopes: Any = "telemarketing", given_at: str = BEFORE, **more: Any) -> dict[str, Any]:
    return {"statement": "我同意接收课程电话推荐", "given_at": given_at, "scopes": scopes, **more}


async def require(harness: Harness, required: bool = True) -> None:
    response = await harness.http.put("/v1/config/consent", json={"require_telemarketing_consent": required})
    assert response.status_code == 200, response.text


async def outcome(harness: Harness, event_id: str) -> dict[str, Any]:
    return (await harness.http.get(f"/v1/submissions/{event_id}")).json()


async def test_the_policy_is_per_tenant_operator_only_and_validated(harness: Harness) -> None:
    assert (await harness.http.get("/v1/config/consent")).json() == {"version": 0,
                                                                     "require_telemarketing_consent": False}
    for role in ("agent", "supervisor", "auditor"):
        refused = await harness.http.put("/v1/config/consent", json={"require_telemarketing_consent": True},
                                         headers=harness.as_(role, "u-1"))
        assert refused.status_code == 403, role
    for body in ({"require_telemarketing_consent": "maybe"}, {"require_consent": True}, []):
        bad = await harness.http.put("/v1/config/consent", json=body, headers=harness.as_("operator", "op-1"))
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json", body
    done = await harness.http.put("/v1/config/consent", json={"require_telemarketing_consent": True},
                                  headers={**harness.as_("operator", "op-1"), "If-Match": '"0"'})
    assert done.status_code == 200 and done.json()["version"] == 1
    stale = await harness.http.put("/v1/config/consent", json={"require_telemarketing_consent": False},
                                   headers={"If-Match": '"0"'})
    assert stale.status_code == 412
    other = await harness.http.get("/v1/config/consent", headers={"X-Tenant-Id": "t-someone-else"})
    assert other.status_code in (200, 403) and (other.status_code == 403 or not
                                                other.json()["require_telemarketing_consent"])


@pytest.mark.parametrize("given", [None, consent("sms"), consent(["email", "短信"]),
                                   consent("telemarketing", "2026-11-24T11:00:00+08:00"),  # after the lead arrived
                                   consent("telemarketing", granted=False)])
async def test_a_lead_without_telemarketing_consent_never_qualifies(harness: Harness, given: Any) -> None:
    await require(harness)
    event_id = await harness.send(lead(**({"consent": given} if given else {})))
    status = await outcome(harness, event_id)
    assert status["status"] == "rejected" and [r["code"] for r in status["reasons"]] == ["no_consent"]
    assert await harness.leads() == []
    await harness.relay()
    assert not harness.of(LEADS_QUALIFIED.name)
    [rejected] = harness.of(LEADS_REJECTED.name)
    assert rejected["data"]["reasons"][0]["code"] == "no_consent"


async def test_a_bad_consent_time_is_a_dead_letter_naming_the_field(harness: Harness) -> None:
    await require(harness)
    event_id = await harness.send(lead(consent=consent(given_at="2026-11-20 10:00")))  # no time zone
    assert (await outcome(harness, event_id))["status"] == "pending"
    await harness.relay()
    [dead] = harness.of("platform.dead-lettered.v1")
    assert "given_at" in dead["data"]["error"]


async def test_consent_is_kept_and_shown_and_a_later_arrival_qualifies_the_person(harness: Harness) -> None:
    await require(harness)
    first = await harness.send(lead())
    assert (await outcome(harness, first))["status"] == "rejected"
    second = await harness.send(lead(consent=consent(["Phone-Call", "sms"], evidence="rec-9")))
    status = await outcome(harness, second)
    assert status["status"] == "qualified"
    view = (await harness.http.get(f"/v1/leads/{status['lead_id']}")).json()
    assert [(c["scope"], c["granted"], c["evidence"]) for c in view["consent"]] == [
        ("telemarketing", True, "rec-9"), ("sms", True, "rec-9")]
    await harness.relay()
    [qualified] = harness.of(LEADS_QUALIFIED.name)
    assert [c["scope"] for c in qualified["data"]["consent"]] == ["telemarketing", "sms"]


async def test_a_withdrawal_merged_into_a_known_lead_is_kept_and_announced(harness: Harness) -> None:
    await require(harness)
    status = await outcome(harness, await harness.send(lead(consent=consent())))
    lead_id = status["lead_id"]
    # an arrival without consent, and an older withdrawal, change nothing
    assert (await outcome(harness, await harness.send(lead())))["status"] == "merged"
    old_no = await harness.send(lead(consent=consent(given_at="2026-11-01T10:00:00+08:00", granted=False)))
    assert "consent" not in {k for k, v in (await outcome(harness, old_no)).items() if v}
    withdrawn = await harness.send(lead(consent=consent("calls", "2026-11-24T09:00:00+08:00", granted=False,
                                                        statement="请不要再打电话")))
    answer = await outcome(harness, withdrawn)
    assert answer["status"] == "merged" and answer["consent"] == "granted: -; withdrawn: telemarketing"
    [stored] = await harness.leads()
    assert stored["consent"][0]["granted"] is False and stored["consent"][0]["statement"] == "请不要再打电话"
    await harness.relay()
    [changed] = harness.of(LEADS_CONSENT_CHANGED.name)
    assert changed["data"]["lead_id"] == lead_id and changed["data"]["withdrawn"] == ["telemarketing"]


async def test_an_import_follows_the_same_rule(harness: Harness) -> None:
    await require(harness)
    csv = ("phone,name,consent_statement,consent_given_at,consent_scopes\n"
           "13924681357,张伟,我同意,2026-11-20T10:00:00+08:00,telemarketing\n"
           "13812345679,李娜,我同意,2026-11-20T10:00:00+08:00,sms\n"
           "13912345670,王芳,,,\n"
           "13712345671,赵强,我同意,not a time,telemarketing\n")
    response = await harness.http.post("/v1/leads:import", content=csv.encode(), headers={"Content-Type": "text/csv"})
    body = response.json()
    assert response.status_code == 202 and body["accepted"] == 3 and body["invalid"] == 1
    assert body["errors"][0]["row"] == 4 and "given_at" in body["errors"][0]["error"]
    stored = await harness.leads()
    assert [s["phone_e164"] for s in stored] == ["+8613924681357"]
    await harness.relay()
    assert len(harness.of(LEADS_REJECTED.name)) == 2


async def test_without_the_requirement_leads_without_consent_still_qualify(harness: Harness) -> None:
    status = await outcome(harness, await harness.send(lead()))
    assert status["status"] == "qualified"
    view = (await harness.http.get(f"/v1/leads/{status['lead_id']}")).json()
    assert view["consent"] == []


async def test_turning_the_requirement_on_is_not_retroactive_but_applies_to_new_people(harness: Harness) -> None:
    before = await outcome(harness, await harness.send(lead()))
    assert before["status"] == "qualified"
    await require(harness)
    # the known person again, without consent: merged into the lead qualified under the old rule
    again = await outcome(harness, await harness.send(lead()))
    assert again["status"] == "merged" and again["lead_id"] == before["lead_id"]
    # a new person without consent: rejected
    other = await outcome(harness, await harness.send(lead(phone="13812345679", email="lina@example.cn")))
    assert other["status"] == "rejected" and other["reasons"][0]["code"] == "no_consent"
    assert len(await harness.leads()) == 1
