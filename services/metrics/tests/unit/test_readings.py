"""The consumer parses only the fields the counting rules read (domain.READ_FIELDS, through the contracts'
Topic.reading). Counting a reading must give exactly what counting the whole contract gives, for every
consumed topic: a rule that reads a field the reading left out, or a field read with another meaning, fails
here."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from metrics import domain
from metrics.domain import Batch, Fact, FactFailed, Rules, World
from metrics.events import CONSUMED_TOPICS, READINGS
from metrics_support import (
    TIP,
    Event,
    agent,
    allocated,
    at,
    bought,
    call,
    daily_active,
    deep_learner,
    forwarded,
    holder,
    learned,
    posted,
    qualified,
    rated,
    reclaimed,
    rejected,
    stage,
    tip_reviewed,
    visited,
    win_confirmed,
)
from telesales_contracts import BY_NAME
from telesales_testkit.harness import cloudevent

RULES = Rules(ZoneInfo("Asia/Shanghai"))
READING = {reading.name: reading for reading in READINGS}
TRANSFER = {"transfer_id": "tx-9", "buyer_id": "a1", "seller_id": "top-1", "tip_id": "tip-1", "price": 30,
            "request_event_id": "req-9"}
PURCHASE = {"purchase_id": "a1:tip-1", "transfer_id": "tx-9", "attempt": 1, "buyer_id": "a1", "seller_id": "top-1",
            "tip_id": "tip-1", "version": 1, "price": 30}
TOUCH = {"event_id": "e-1", "source": "/tests", "channel": "im", "channel_raw": None, "received_at": at(1)}


def other_topics() -> list[Event]:
    """Events of the topics the support module has no builder for (valid per their contracts)."""
    return [
        ("agents.graded.v1", {"agent_id": "a1", "week": "2026-W48", "grade": "A", "previous_grade": "B", "rank": 1,
                              "agents_ranked": 3, "sales_fen": 100, "deals": 1, "promoted_from_e": False,
                              "team_id": "mba"}),
        ("leads.merged.v1", {"lead_id": "L1", "matched_on": "phone", "touch": TOUCH, "touches": 2}),
        ("allocation.win-rejected.v1", {"lead_id": "L1", "agent_id": "a1", "team_id": "mba",
                                        "business_line": "education", "pool_id": "education",
                                        "declared_amount_fen": 5000, "won_at": at(20), "rejected_by": "order",
                                        "rejecter": "crm", "reason": "lost", "order_ref": "SO-1",
                                        "rejected_at": at(25)}),
        ("leads.complaint.v1", {"lead_id": "L1", "reason": "too many calls", "phone_e164": "+8613900000000"}),
        ("leads.do-not-call.v1", {"phone_bidx": "AAAAAAAAAAAAAAAAAAAA01", "phone_masked": "+86139****0000",
                                  "listed": True, "source": "complaint", "reason": "complaint: too many calls",
                                  "lead_id": "L1", "changed_at": at(29)}),
        ("leads.signal.v1", {"lead_id": "L1", "phone_e164": "+8613900000000", "kind": "unpaid_order",
                             "detail": None, "occurred_at": at(30)}),
        ("allocation.reclaim-warning.v1", {"lead_id": "L1", "agent_id": "a1", "kind": "not_processed",
                                           "reclaim_at": at(600), "stage_percent": 0}),
        ("allocation.hot-lead.v1", {"lead_id": "L1", "agent_id": "a1", "routed": "holder", "kind": "unpaid_order",
                                    "detail": None, "occurred_at": at(31), "signal_event_id": "sig-1"}),
        ("ledger.transfer-rejected.v1", {**TRANSFER, "repeat": False, "reason": "insufficient_funds", "limit": None,
                                         "limit_value": None, "message": "not enough coins",
                                         "rejected_at": at(32)}),
        ("ledger.coins-redeemed.v1", {"transfer_id": "rd-1", "user_id": "a1", "coins": 100, "yuan_fen": 100,
                                      "item": "cash", "redeemed_by": "ops", "redeemed_at": at(33)}),
        ("ledger.bonus-awarded.v1", {"draw_id": "d-1", "seed": "s", "algorithm": "uniform", "min_amount": 1,
                                     "max_amount": 10, "awards": [], "total": 0, "drawn_by": "ops",
                                     "drawn_at": at(34)}),
        ("ledger.transfer-recorded.v1", {"transfer_id": "tx-9", "kind": "payment", "state": "posted",
                                         "debit_account": "user:a1", "credit_account": "user:top-1", "amount": 30,
                                         "hold_id": None, "linked_group": None, "expires_at": None, "by": "ledger",
                                         "at": at(35)}),
        ("ledger.reallocation-decided.v1", {"request_id": "r-1", "user_id": "a1", "decision": "approved",
                                            "amount": 50, "allocation_id": "alloc-2", "decided_by": "ops",
                                            "reason": None, "decided_at": at(36)}),
        ("marketplace.tip-submitted.v1", {**TIP, "tip_id": "tip-9", "submitted_at": at(37)}),
        ("marketplace.tip-listed.v1", {**TIP, "tip_id": "tip-9", "replaced_version": None, "listed_at": at(38)}),
        ("marketplace.tip-delisted.v1", {"tip_id": "tip-9", "version": 1, "author_id": "top-1",
                                         "delisted_by": "ops", "reason": "outdated", "delisted_at": at(39)}),
        ("marketplace.purchase-requested.v1", {**PURCHASE, "requested_at": at(40)}),
        ("marketplace.purchase-refused.v1", {**PURCHASE, "reason": "insufficient_funds", "limit": None,
                                             "limit_value": None, "message": "not enough coins",
                                             "refused_at": at(41)}),
        ("marketplace.struggle-recommended.v1", {"recommendation_id": "rec-1", "agent_id": "a1", "team_id": "mba",
                                                 "step": "intent", "agent_rate": 0.1, "team_rate": 0.3, "gap": 0.2,
                                                 "stage": "objection_handling",
                                                 "tips": [{"tip_id": "tip-1", "version": 1, "title": "t", "price": 30,
                                                           "rating": None, "ratings": 0}],
                                                 "recommended_at": at(42)}),
        ("platform.dead-lettered.v1", {"original_topic": "calls.logged.v1", "partition": 0, "offset": 7,
                                       "key_b64": None, "consumer_group": "metrics", "service": "metrics",
                                       "error_type": "schema_error", "error": "bad", "payload_b64": "",
                                       "payload_text": None, "headers": {}}),
    ]


def day() -> list[Event]:
    """A floor's day touching every consumed topic, the rules' branches included (repeat steps, releases)."""
    return [
        agent("a1"), agent("a2"), qualified("L1", at(0)), qualified("L2", at(1), channel="im"), rejected(at(2)),
        tip_reviewed("tip-1", at(3)), tip_reviewed("tip-2", at(3), "rejected"), allocated("a1", at(4)),
        holder("assigned", "L1", "a1", at(5)), holder("claimed", "L2", "a2", at(6)),
        call("L1", "a1", at(10), 75), call("L1", "a1", at(20), 200), call("L2", "a2", at(15), 0, connected=False),
        stage("L1", "intent", agent="a1"), stage("L2", None, agent="a2"), holder("returned", "L2", "a2", at(25)),
        holder("claimed", "L2", "a1", at(26)), holder("reclaimed", "L2", "a1", at(50), kind="not_converted"),
        visited("a1", "tip-1", at(30)), bought("a1", "tip-1", at(31)), posted("a1", at(31), balance=70),
        learned("a1", "tip-1", at(40)), learned("a1", "tip-1", at(45), rewatch=True), rated("a1", "tip-1", at(46)),
        forwarded("a1", "tip-1", at(47)), daily_active("a1", at(30)), deep_learner("a1", at(48)),
        reclaimed("a2", at(49)), daily_active("a2", at(60)), holder("won", "L1", "a1", at(90)),
        win_confirmed("L1", "a1", at(92)), holder("closed", "L2", "a1", at(95), do_not_call=True), *other_topics(),
    ]


def facts(events: list[Event], parse: Any) -> list[Fact]:
    out = []
    for n, (topic, data) in enumerate(events):
        raw = cloudevent(topic, "t", data, event_id=f"e{n}-{uuid.uuid4().hex[:6]}", time=at(n))
        event = parse(topic, raw)
        out.append(Fact(topic, event.tenantid, event.id, domain.fact_time(topic, event.data, getattr(event, "time", None)), event.data))
    return out


def count(events: list[Event], parse: Any) -> tuple[dict[Any, Any], dict[str, Any]]:
    world = World()
    increments = Batch(RULES, {"t": world}).apply(facts(events, parse))
    states = {kind: {key: asdict(state) for key, state in getattr(world, kind).items()}
              for kind in ("leads", "agents", "users", "user_tips")}
    return increments, {**states, "tips": world.tips, "changed": dict(world.changed)}


def test_the_sample_day_covers_every_consumed_topic() -> None:
    assert {topic for topic, _ in day()} == {topic.name for topic in CONSUMED_TOPICS}


def test_every_consumed_topic_is_read_through_its_fields() -> None:
    assert set(READING) == set(domain.READ_FIELDS) == {topic.name for topic in CONSUMED_TOPICS}


def test_counting_the_fields_read_equals_counting_the_whole_contract() -> None:
    whole = count(day(), lambda topic, raw: BY_NAME[topic].parse(raw))
    read = count(day(), lambda topic, raw: READING[topic].parse(raw))
    assert read == whole
    assert whole[0], "the sample day counted nothing"


def test_every_reading_decodes_the_sample_day_on_its_fast_path() -> None:
    """Each consumed topic has a fast decoder, and it takes the day's events itself (none left to the slow
    pydantic path, which would cost several times as much): the rules then see what counting the fast
    structs gives, checked above through parse."""
    for n, (topic, data) in enumerate(day()):
        decoder = READING[topic].fast_decoder
        assert decoder is not None, f"{topic} has no fast decoder"
        raw = cloudevent(topic, "t", data, event_id=f"e{n}", time=at(n))
        assert decoder.decode(raw).type == f"telesales.{topic}"


def test_a_rule_reading_a_field_left_out_fails() -> None:
    """The guard of the equivalence above: a reading without a field a rule uses does not pass quietly."""
    calls = BY_NAME["calls.logged.v1"].reading(frozenset(domain.READ_FIELDS["calls.logged.v1"]) - {"connected"})
    raw = cloudevent("calls.logged.v1", "t", call("L1", "a1", at(10), 75)[1], event_id="e1", time=at(10))
    event = calls.parse(raw)
    fact = Fact("calls.logged.v1", "t", "e1", event.data.started_at, event.data)
    with pytest.raises(FactFailed) as failed:
        Batch(RULES, {"t": World()}).apply([fact])
    assert isinstance(failed.value.error, AttributeError) and failed.value.fact is fact


def test_a_reading_refuses_what_the_contract_refuses_in_the_fields_read() -> None:
    topic, data = call("L1", "a1", at(10), 75)
    raw = cloudevent(topic, "t", {**data, "duration_seconds": -5}, event_id="e1", time=at(10))
    with pytest.raises(ValidationError, match="duration_seconds"):
        READING[topic].parse(raw)
    with pytest.raises(ValidationError, match="tenantid"):
        READING[topic].parse(cloudevent(topic, "NOT A TENANT", data, event_id="e1", time=at(10)))


def test_a_reading_names_only_fields_of_its_contract() -> None:
    with pytest.raises(ValueError, match="no field"):
        _ = BY_NAME["calls.logged.v1"].reading(frozenset({"lead_id", "no_such_field"})).event_model
