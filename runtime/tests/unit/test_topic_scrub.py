"""Finding an erased person in Kafka records, and which consumer groups a truncation waits for (no I/O)."""

from __future__ import annotations

import base64
import json

from aiokafka import TopicPartition

from telesales_runtime.topic_log import GroupPolicy, GroupView
from telesales_runtime.topic_scrub import Matcher, Wanted

LI = Wanted(ref="r-li", phones=(("86", "13912345678"),), emails=("Li.Lei@Example.com",), names=("李雷",))
HAN = Wanted(ref="r-han", phones=(("86", "13800001111"),), names=("Han Meimei",))


def test_a_number_is_found_however_it_is_written() -> None:
    matcher = Matcher([LI])
    for text in ("+86 139-1234-5678", "13912345678", "(0)139 1234 5678", "tel:+8613912345678;ext=2",
                 "0086 139.1234.5678", "call 139 1234 5678 after 6pm", "+86 (0) 139/1234/5678"):
        assert matcher.in_text(text) == {"r-li"}, text
    for text in ("13912345670", "1391234567", "139-1234-567, 8", "2026-12-07T08:00:06Z 1700000000000"):
        assert matcher.in_text(text) == set(), text


def test_an_email_and_a_name_match_whatever_their_case_and_escaping() -> None:
    matcher = Matcher([LI, HAN])
    assert matcher.in_text("write to LI.LEI@example.COM") == {"r-li"}
    escaped = json.dumps({"lead": {"name": "李雷", "notes": "call HAN MEIMEI"}}).encode()  # \\uXXXX
    assert b"\\u674e" in escaped
    assert matcher.in_record(None, escaped) == {"r-li", "r-han"}


def test_key_headers_and_base64_payloads_of_dead_letters_are_read() -> None:
    matcher = Matcher([LI])
    assert matcher.in_record(b"tenant/+8613912345678", b"{}") == {"r-li"}
    assert matcher.in_record(None, b"{}", [("x-contact", "李雷".encode())]) == {"r-li"}
    original = json.dumps({"data": {"phone": "139 1234 5678"}}).encode()
    letter = {"data": {"payload_b64": base64.b64encode(original).decode(),
                       "headers": {"x-who": base64.b64encode("李雷".encode()).decode()}}}
    assert matcher.in_record(None, json.dumps(letter).encode()) == {"r-li"}
    # about a dead letter: base64 in JSON in base64
    outer = {"data": {"payload_b64": base64.b64encode(json.dumps(letter).encode()).decode()}}
    assert matcher.in_record(None, json.dumps(outer).encode()) == {"r-li"}


def test_a_value_inside_a_longer_one_is_not_the_person() -> None:
    # a false match would delete someone else's dead letter: whole words and whole numbers only
    matcher = Matcher([Wanted(ref="r", phones=(("86", "13912345678"),), emails=("li@x.cn",), names=("Han Mei",))])
    for text in ("lili@x.cn", "li@x.cn.evil.org", "Han Meimei", "order 2026139123456789", "ts 1713912345678",
                 "99913912345678"):
        assert matcher.in_text(text) == set(), text
    for text in ("<li@x.cn>", "li@x.cn.", "han   mei", "+86 0 13912345678"):
        assert matcher.in_text(text) == {"r"}, text
    short = Matcher([Wanted(ref="r", names=("Li",))])
    assert short.in_text("client list") == set() and short.in_text("mr. LI called") == {"r"}


def test_raw_text_that_is_not_json_is_read_too() -> None:
    assert Matcher([LI]).in_record(None, "姓名:李雷,电话 139 1234 5678,,,{broken".encode()) == {"r-li"}
    assert Matcher([LI]).in_record(None, b"\xff\xfe garbage 13912345678") == {"r-li"}


def test_nobody_else_matches_and_too_short_needles_are_not_looked_for() -> None:
    matcher = Matcher([LI, HAN])
    assert matcher.in_record(b"lead-1", json.dumps({"name": "Wang Wei", "phone": "+8613700002222",
                                                    "email": "w@example.com"}).encode()) == set()
    assert not Matcher([Wanted(ref="r", phones=(("86", "123"),), names=("王",), emails=("nope",))])


TP = TopicPartition("leads.qualified.v1", 0)
OTHER = TopicPartition("leads.qualified.v1", 1)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_group_with_members_is_waited_for_until_it_commits_past_the_record() -> None:
    policy = GroupPolicy(idle_seconds=60)
    live = GroupView("allocator", True, frozenset({TP}), {TP: 10})
    policy.observe([live])
    assert policy.blockers([live], TP, 10) == ["allocator"]
    assert policy.blockers([GroupView("allocator", True, frozenset({TP}), {TP: 11})], TP, 10) == []
    # assigned, nothing committed yet: it will read the record, so it is waited for
    assert policy.blockers([GroupView("allocator", True, frozenset({TP}), {})], TP, 10) == ["allocator"]
    # a group reading other partitions only does not count here, even with an old commit on this one
    assert policy.blockers([GroupView("metrics", True, frozenset({OTHER}), {OTHER: 0, TP: 2})], TP, 10) == []
    # mid-rebalance (no assignment known): its commits say what it reads
    assert policy.blockers([GroupView("console", True, frozenset(), {TP: 4})], TP, 10) == ["console"]


def test_an_empty_group_counts_within_the_idle_window_unless_ignored() -> None:
    clock = Clock()
    policy = GroupPolicy(ignore=["console-e2e-*"], idle_seconds=60, clock=clock)
    stopped = GroupView("ledger", False, frozenset(), {TP: 3})
    stale = GroupView("console-e2e-1a2b", False, frozenset(), {TP: 3})
    policy.observe([GroupView("ledger", True, frozenset({TP}), {TP: 3}), stale])
    clock.now += 30
    policy.observe([stopped, stale])
    assert policy.blockers([stopped, stale], TP, 5) == ["ledger"]  # the ignored one never counts
    clock.now += 31  # last seen with members 61 s ago
    assert policy.blockers([stopped], TP, 5) == []
    # an empty group never seen with members counts for the window from its first sighting
    new = GroupView("old-deploy", False, frozenset(), {TP: 0})
    policy.observe([new])
    assert policy.blockers([new], TP, 5) == ["old-deploy"]
    clock.now += 61
    policy.observe([new])
    assert policy.blockers([new], TP, 5) == []
    # an empty group without a commit on the partition has nothing unprocessed there
    assert policy.blockers([GroupView("x", False, frozenset(), {OTHER: 0})], TP, 5) == []


def test_what_was_seen_outlives_a_restart_and_groups_the_broker_dropped_are_forgotten() -> None:
    clock = Clock()
    before = GroupPolicy(idle_seconds=60, clock=clock)
    before.observe([GroupView("ledger", True, frozenset({TP}), {TP: 3}), GroupView("gone", True, frozenset(), {})])
    clock.now += 50
    after = GroupPolicy(idle_seconds=60, clock=clock)  # a restart: what was seen comes back from the store
    after.remember(before.last_active)
    stopped = GroupView("ledger", False, frozenset(), {TP: 3})
    after.observe([stopped])
    assert after.last_active == {"ledger": 1000.0}  # seen with members 50 s ago, not first seen now
    clock.now += 11
    assert after.blockers([stopped], TP, 5) == []
