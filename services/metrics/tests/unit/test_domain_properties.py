"""Properties of the funnel arithmetic, for any stream of stage changes and wins: the funnel never widens,
a lead counts at most once per step, the result does not depend on the order or on how the stream is cut
into batches, and the days add up to all time."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from metrics import domain
from metrics.domain import ALL, LEAD_STEPS, Batch, Fact, Rules, World
from metrics_support import stage, win_confirmed
from telesales_contracts import BY_NAME

RULES = Rules(ZoneInfo("Asia/Shanghai"))

START = datetime.fromisoformat("2026-11-23T09:00:00+08:00")

# (lead number, step index 1..6 (valid..paid; 6 = a confirmed win), minutes after START)
Move = tuple[int, int, int]
moves = st.lists(st.tuples(st.integers(0, 7), st.integers(1, 6), st.integers(0, 4 * 24 * 60)), max_size=60)


def facts_of(stream: list[Move]) -> list[Fact]:
    out = []
    for n, (lead, step, minutes) in enumerate(stream):
        when = START + timedelta(minutes=minutes)
        if step == len(LEAD_STEPS) - 1:
            topic, data = win_confirmed(f"L{lead}", "a1", when.isoformat())  # paid: a confirmed win
        else:
            topic, data = stage(f"L{lead}", LEAD_STEPS[step], agent="a1")
        model = BY_NAME[topic].data_model.model_validate(data)
        out.append(Fact(topic, "t", f"e{n}", domain.fact_time(topic, model, when), model))
    return out


def funnel(increments: dict[domain.CounterKey, Counter[str]], period: str = ALL) -> Counter[str]:
    total: Counter[str] = Counter()
    for key, c in increments.items():
        if key.family == "funnel" and key.period == period:
            total.update({s: c.get(s, 0) for s in LEAD_STEPS})
    return total


def apply(facts: list[Fact], world: World | None = None) -> dict[domain.CounterKey, Counter[str]]:
    return Batch(RULES, {"t": world or World()}).apply(facts)


@settings(max_examples=150, deadline=None)
@given(moves)
def test_the_funnel_never_widens_and_counts_each_lead_once_per_step(stream: list[Move]) -> None:
    counts = funnel(apply(facts_of(stream)))
    leads = len({lead for lead, _, _ in stream})
    values = [counts[s] for s in LEAD_STEPS]
    assert values == sorted(values, reverse=True)
    assert values[0] == leads
    # a lead is at a step when the furthest step it reached is that one or beyond
    furthest: dict[int, int] = {}
    for lead, step, _ in stream:
        furthest[lead] = max(furthest.get(lead, 0), step)
    assert values == [sum(1 for f in furthest.values() if f >= i) for i in range(len(LEAD_STEPS))]


@settings(max_examples=100, deadline=None)
@given(moves, st.randoms(use_true_random=False), st.integers(1, 10))
def test_order_and_batches_do_not_change_the_all_time_funnel(stream: list[Move], rnd: object, cut: int) -> None:
    facts = facts_of(stream)
    expected = funnel(apply(facts))
    shuffled = list(facts)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    world = World()
    total: Counter[str] = Counter()
    for start in range(0, len(shuffled), cut):  # batch after batch, with the states carried over
        total.update(funnel(apply(shuffled[start:start + cut], world)))
    assert total == expected


@settings(max_examples=100, deadline=None)
@given(moves)
def test_the_days_add_up_to_all_time_and_rates_stay_within_bounds(stream: list[Move]) -> None:
    increments = apply(facts_of(stream))
    by_day: Counter[str] = Counter()
    for day in {k.period for k in increments if k.period != ALL}:
        by_day.update(funnel(increments, day))
    total = funnel(increments)
    assert by_day == total
    rows = domain.funnel_rows(total, LEAD_STEPS)
    for row in rows[1:]:
        for rate in (row["rate_from_previous"], row["rate_over_total"]):
            assert rate is None or 0.0 <= rate <= 1.0
