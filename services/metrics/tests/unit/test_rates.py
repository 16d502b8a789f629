"""The coin rates (no I/O): the re-learn rate (复学人数/回收人数) and the daily-active rate (日活率, over the users
the coins were allocated to) match hand-computed examples and never exceed 1, for any stream of events."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import domain
from metrics.domain import ALL, Batch, CounterKey, Fact, Rules, World
from metrics_support import Event, allocated, daily_active, learned, posted, reclaimed, visited
from telesales_contracts import BY_NAME

RULES = Rules(ZoneInfo("Asia/Shanghai"))
D1, D2, D3 = "2026-11-24", "2026-11-25", "2026-11-26"


def at(hhmm: str, day: str = D1) -> str:
    return f"{day}T{hhmm}:00+08:00"


def apply(events: list[Event]) -> dict[CounterKey, Counter[str]]:
    facts = []
    for n, (topic, data) in enumerate(events):
        model = BY_NAME[topic].data_model.model_validate(data)
        facts.append(Fact(topic, "t", f"e{n}", domain.fact_time(topic, model, None), model))
    return Batch(RULES, {"t": World()}).apply(facts)


def market(increments: dict[CounterKey, Counter[str]], period: str = ALL) -> Counter[str]:
    out: Counter[str] = Counter()
    for key, c in increments.items():
        if key.family == "market" and key.period == period:
            out.update(c)
    return out


def test_relearn_rate_is_relearners_over_the_users_reclaimed_hand_computed() -> None:
    increments = apply([
        *(reclaimed(u, at("12:00")) for u in ("u1", "u2", "u3", "u4")),  # four reclaimed on D1
        reclaimed("u5", at("12:00", D2)),  # one on D2
        learned("u1", "tip-1", at("09:00", D2), done=False),  # u1 and u5 learn again on D2, u2 on D3
        learned("u5", "tip-1", at("15:00", D2)),
        learned("u2", "tip-1", at("09:00", D3)),
        learned("u2", "tip-2", at("10:00", D3)),  # a second report: u2 counts once
        visited("u3", "tip-1", at("09:00", D2)), daily_active("u4", at("09:00", D2)),  # not learning
        learned("u9", "tip-1", at("09:00", D2)),  # never reclaimed
    ])
    d1, d2, d3, total = (market(increments, p) for p in (D1, D2, D3, ALL))
    # D1: of the four reclaimed that day, two (u1, u2) learned again: 2/4.
    assert (d1["users_reclaimed"], d1["reclaimed_relearned"], domain.relearn_rate(d1)) == (4, 2, 0.5)
    # D2: two came back that day (u1, u5) but only u5 was reclaimed that day: 1/1, not 2/1.
    assert (d2["users_relearned"], d2["users_reclaimed"], domain.relearn_rate(d2)) == (2, 1, 1.0)
    assert (d3["users_relearned"], domain.relearn_rate(d3)) == (1, None)
    assert (total["users_reclaimed"], total["users_relearned"], domain.relearn_rate(total)) == (5, 3, 0.6)


def test_daily_active_rate_is_over_the_users_the_coins_were_allocated_to_hand_computed() -> None:
    increments = apply([
        *(allocated(u, at("08:00")) for u in ("u1", "u2", "u3", "u4")),
        posted("u3", at("08:30"), balance=0), posted("u4", at("08:30"), balance=0),  # spent all: not holding
        daily_active("u1", at("09:00")), daily_active("u1", at("09:30")),  # twice the same day: once
        daily_active("u3", at("10:00")), daily_active("u4", at("10:00")),
        daily_active("u8", at("10:00")), daily_active("u9", at("10:00")),  # never allocated coins
    ])
    d1 = market(increments, D1)
    assert (d1["daily_active"], d1["daily_active_allocated"], d1["users_allocated"], d1["holders"]) == (6, 3, 4, 2)
    # Three of the four users the coins went to: 3/4 (over the two holding coins it would read 6/2 = 300 %).
    assert domain.daily_active_rate(d1["daily_active_allocated"], 1, d1["users_allocated"]) == 0.75


# A stream: (user number, event kind, minutes after the start, over four days)
Step = tuple[int, int, int]
KINDS = ("allocated", "reclaimed", "learned", "daily_active", "visited", "spent")
streams = st.lists(st.tuples(st.integers(0, 5), st.integers(0, len(KINDS) - 1), st.integers(0, 4 * 24 * 60 - 1)),
                   max_size=80)
START = datetime.fromisoformat(f"{D1}T00:00:00+08:00")


def event_of(user: str, kind: str, when: str) -> Event:
    return {"allocated": lambda: allocated(user, when), "reclaimed": lambda: reclaimed(user, when),
            "learned": lambda: learned(user, "tip-1", when), "daily_active": lambda: daily_active(user, when),
            "visited": lambda: visited(user, "tip-1", when),
            "spent": lambda: posted(user, when, balance=0)}[kind]()


@settings(max_examples=150, deadline=None)
@given(streams)
def test_no_rate_ever_exceeds_one_on_any_day_or_all_time(stream: list[Step]) -> None:
    increments = apply([event_of(f"u{u}", KINDS[k], (START + timedelta(minutes=m)).isoformat())
                        for u, k, m in stream])
    days = sorted({key.period for key in increments
                   if key.family == "market" and len(key.period) == 10 and key.period[4] == "-"})
    allocated_so_far = 0
    for day in days:
        counts = market(increments, day)
        allocated_so_far += counts["users_allocated"]
        rate = domain.daily_active_rate(counts["daily_active_allocated"], 1, allocated_so_far)
        assert rate is None or 0 <= rate <= 1
        relearn = domain.relearn_rate(counts)
        assert relearn is None or 0 <= relearn <= 1
    total = market(increments)
    assert total["users_allocated"] == allocated_so_far
    relearn = domain.relearn_rate(total)
    assert relearn is None or 0 <= relearn <= 1
    assert total["users_relearned"] == total["reclaimed_relearned"] <= total["users_reclaimed"]
