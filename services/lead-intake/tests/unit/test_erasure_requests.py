"""What an erasure request accepts and how its record reads (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from lead_intake.crypt import LEAD_FIELDS, LISTING_FIELDS
from lead_intake.erasure import ErasureIn, view_of
from telesales_runtime.erasure import is_personal
from telesales_runtime.pii_store import bidx_field

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


def test_a_request_names_a_phone_or_an_email_and_nothing_else() -> None:
    assert ErasureIn(phone="13912345678").email is None
    assert ErasureIn(email="a@b.cn", reason="ticket 7").reason == "ticket 7"
    for bad in ({}, {"reason": "why"}, {"phone": ""}, {"phone": "1" * 41}, {"email": "a@b.cn", "name": "张伟"}):
        with pytest.raises(ValidationError):
            ErasureIn.model_validate(bad)


def test_a_record_reads_pending_complete_or_nothing_found() -> None:
    record = {"_id": "erasure-1", "tenant_id": "t", "reason": "request", "note": "ticket 7",
              "requested_by": {"sub": "op-1", "roles": ["operator"]}, "requested_at": AT, "lead_ids": ["L1"],
              "expected_services": ["allocator", "lead-intake"], "services": {}, "completed_at": None}
    assert view_of(record).status == "pending"
    done = {**record, "completed_at": AT, "services": {"allocator": {"completed_at": AT, "counts": {"leads": 1}},
                                                       "lead-intake": {"completed_at": AT, "counts": {}}}}
    assert view_of(done).status == "complete" and view_of(done).services["allocator"].counts == {"leads": 1}
    assert view_of({**record, "lead_ids": [], "completed_at": AT}).status == "nothing_found"
    # a retention request's record, started by the first answer, has no lead ids of its own
    assert view_of({**record, "reason": "retention", "lead_ids": None}).lead_ids is None


def test_the_erasure_clears_every_field_lead_intake_seals_and_its_blind_index() -> None:
    # the anonymiser works by field name (telesales_runtime.erasure): a sealed field it did not know would survive
    for fields in (LEAD_FIELDS, LISTING_FIELDS):
        for name, kind in fields.items():
            assert is_personal(name), name
            assert kind is None or is_personal(bidx_field(name)), bidx_field(name)
    assert is_personal("extra")  # a touch's and an outcome's sealed extra fields


def test_the_topic_step_looks_for_national_numbers_emails_and_names_of_the_request_and_its_leads() -> None:
    from lead_intake.topic_erasure import erasable_topics, needles_of

    people = [{"phone_e164": "+8613924681357", "email": "Zhang.Wei@Example.cn", "name": " 张伟 "},
              {"phone_e164": None, "email": None, "name": None}]
    assert needles_of(["+8613900001111", "+14155550123"], ["a@b.cn"], people) == {
        "phones": [["1", "4155550123"], ["86", "13900001111"], ["86", "13924681357"]], "emails": ["a@b.cn", "zhang.wei@example.cn"],
        "names": ["张伟"]}
    topics = erasable_topics()
    assert "platform.dead-lettered.v1" in topics and "leads.received.v1" in topics
    assert "leads.do-not-call.v1" not in topics and "calls.logged.v1" not in topics  # compacted; no personal data


def test_a_request_with_a_topic_step_is_complete_only_with_it() -> None:
    step = {"completed_at": None, "partitions_truncated": 0, "records_removed": 0, "dead_letters_kept": 0,
            "waiting_on": ["leads.qualified.v1/2: allocator"]}
    record = {"_id": "erasure-1", "tenant_id": "t", "reason": "request", "requested_at": AT, "lead_ids": ["L1"],
              "expected_services": ["allocator"], "services": {"allocator": {"completed_at": AT, "counts": {}}},
              "completed_at": None, "topics": step}
    view = view_of(record)
    assert view.status == "pending" and view.topics is not None and view.topics.waiting_on == step["waiting_on"]
    assert view_of({**record, "topics": None}).topics is None
