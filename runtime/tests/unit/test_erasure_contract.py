"""A pending event scrubbed by an erasure still validates as its topic's data (no I/O)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from telesales_contracts.allocation import LeadClosed
from telesales_contracts.topics import ALLOCATION_CLOSED
from telesales_runtime.erasure import scrub
from telesales_runtime.erasure_contract import ERASED_TEXT, kept_valid


def closed_event(reason: str) -> bytes:
    data = LeadClosed(lead_id="L1", agent_id="a1", team_id="t1", agent_grade="B", business_line="education",
                      pool_id="p1", score=70, lead_grade="B", at=datetime(2026, 12, 7, tzinfo=UTC), reason=reason)
    return ALLOCATION_CLOSED.event(data, source="/test", tenantid="t").to_json_bytes()


def test_a_required_reason_the_scrub_cleared_says_erased_and_the_event_validates() -> None:
    scrubbed, changed = scrub(closed_event("张伟 bought elsewhere"))
    assert changed and json.loads(scrubbed)["data"]["reason"] is None
    kept = kept_valid(ALLOCATION_CLOSED.name, scrubbed)
    event = json.loads(kept)
    assert event["data"]["reason"] == ERASED_TEXT and "张伟" not in kept.decode()
    assert LeadClosed.model_validate(event["data"]).lead_id == "L1"


def test_a_valid_payload_or_an_unknown_topic_is_left_as_it_is() -> None:
    payload = closed_event("no budget")
    assert kept_valid(ALLOCATION_CLOSED.name, payload) is payload
    broken = b'{"data": {"reason": null}}'
    assert kept_valid("no.such.topic.v1", broken) is broken
    assert kept_valid(None, broken) is broken
