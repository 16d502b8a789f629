"""Clearing a person's data by field name (telesales_runtime.erasure.scrub): nested, in arrays, in an
outbox's serialized events, the siblings an encryption layer keeps, and nothing else."""

from __future__ import annotations

import json

from telesales_runtime.erasure import is_personal, scrub


def test_personal_fields_are_cleared_wherever_they_sit() -> None:
    lead = {"_id": "L1", "tenant_id": "t", "phone_e164": "+8613912345678", "name": "张伟", "score": 60,
            "status": "closed", "close_reason": "张伟 bought elsewhere", "attributes": {"wechat": "zw"},
            "history": [{"kind": "closed", "agent_id": "a1", "reason": "张伟 said no"}],
            "recent_calls": [{"at": 1, "note": "asked for 张伟"}], "external_refs": [{"external_id": "crm-1"}]}
    scrubbed, changed = scrub(lead)
    assert changed
    assert scrubbed["phone_e164"] is None and scrubbed["name"] is None and scrubbed["close_reason"] is None
    assert scrubbed["attributes"] == {} and scrubbed["history"][0] == {"kind": "closed", "agent_id": "a1",
                                                                          "reason": None}
    assert scrubbed["recent_calls"][0]["note"] is None
    # what is not personal stays: ids, statuses, scores, outside references
    assert {k: scrubbed[k] for k in ("_id", "tenant_id", "score", "status", "external_refs")} == {
        "_id": "L1", "tenant_id": "t", "score": 60, "status": "closed", "external_refs": [{"external_id": "crm-1"}]}


def test_encrypted_siblings_go_with_their_field() -> None:
    assert is_personal("phone_e164_bidx") and is_personal("email_bidx") and is_personal("name_enc")
    assert not is_personal("lead_id") and not is_personal("score_bidx") and not is_personal("phone_masked")
    scrubbed, _ = scrub({"phone_e164": "v1:AAAA", "phone_e164_bidx": "k1:ffff", "lead_id": "L"})
    assert scrubbed == {"phone_e164": None, "phone_e164_bidx": None, "lead_id": "L"}


def test_a_serialized_event_is_scrubbed_in_place() -> None:
    payload = json.dumps({"id": "e1", "type": "leads.qualified.v1", "data": {
        "lead_id": "L1", "phone_e164": "+8613912345678", "email": "a@b.cn", "attributes": {"x": "y"}}}).encode()
    scrubbed, changed = scrub(payload)
    assert changed and isinstance(scrubbed, bytes)
    event = json.loads(scrubbed)
    assert event["id"] == "e1" and event["data"] == {"lead_id": "L1", "phone_e164": None, "email": None,
                                                       "attributes": {}}
    assert scrub(b"\x00not json") == (b"\x00not json", False)


def test_nothing_personal_is_no_change() -> None:
    doc = {"_id": "x", "counts": {"won": 2}, "phone_masked": True, "holders": [1, 2]}
    assert scrub(doc) == (doc, False)


def test_a_do_not_call_event_keeps_its_blind_index_through_an_erasure() -> None:
    from telesales_runtime.erasure import KEPT_THROUGH_ERASURE, _kept

    event = json.dumps({"id": "e1", "subject": "AAAAAAAAAAAAAAAAAAAAAA", "data": {
        "phone_bidx": "AAAAAAAAAAAAAAAAAAAAAA", "phone_masked": "+86139****1357", "listed": True,
        "reason": "complaint: 张伟 said stop", "lead_id": "L1"}}).encode()
    scrubbed, changed = scrub(event)
    kept = json.loads(_kept(event, scrubbed, KEPT_THROUGH_ERASURE["leads.do-not-call.v1"]))
    assert changed and kept["data"] == {"phone_bidx": "AAAAAAAAAAAAAAAAAAAAAA", "phone_masked": "+86139****1357",
                                        "listed": True, "reason": None, "lead_id": "L1"}
