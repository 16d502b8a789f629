"""Properties of the allocator's pool rules (domain/): routing, claim grants within cap and quota,
quota periods, reclaim schedules, contact pressure, time split by day and phone masking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from allocator.domain import (
    AllocationPolicy,
    HeldLeadFacts,
    ReclaimRule,
    RoutingRule,
    claim_grant,
    contact_pressure,
    quota_period,
    reclaim_schedule,
    route_pool,
    split_by_day,
)
from telesales_runtime.errors import DomainError
from telesales_runtime.masking import mask_phone

ZONES = st.sampled_from([ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"),
                         ZoneInfo("UTC")])
INSTANTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC))
LINES = st.sampled_from(["mba", "cpa", "ielts"])
POOLS = st.sampled_from(["p1", "p2", "p3", "p4"])

rules = st.builds(
    RoutingRule, pool_id=POOLS, business_line=st.none() | LINES,
    product_interests=st.lists(st.sampled_from(["MBA", "cpa ", "雅思"]), max_size=2),
    region_prefixes=st.lists(st.sampled_from(["广东", "广东深圳", "北京"]), max_size=2),
    min_score=st.integers(0, 50), max_score=st.integers(50, 100), priority=st.integers(0, 5))


@given(st.lists(rules, max_size=8), st.randoms(use_true_random=False), LINES,
       st.none() | st.sampled_from(["mba", "CPA", "雅思", "other"]), st.none() | st.sampled_from(["广东深圳", "北京", "上海"]),
       st.integers(0, 100))
def test_a_lead_lands_in_the_first_matching_pool_whatever_the_rule_order(
        chosen: list[RoutingRule], rnd: object, line: str, interest: str | None, region: str | None,
        score: int) -> None:
    pool = route_pool(chosen, business_line=line, product_interest=interest, region=region, score=score)
    shuffled = list(chosen)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert route_pool(shuffled, business_line=line, product_interest=interest, region=region, score=score) == pool
    matching = [r for r in chosen if r.matches(business_line=line, product_interest=interest, region=region,
                                               score=score)]
    if not matching:
        assert pool == line
    else:
        best = min((r.priority, r.pool_id) for r in matching)
        assert pool == best[1]
        # no rule with a lower priority matched
        assert all(r.priority >= best[0] for r in matching)


@given(requested=st.integers(-3, 300), held=st.integers(0, 300), cap=st.integers(1, 300),
       claimed=st.integers(0, 300), quota=st.integers(0, 300))
def test_a_claim_grant_stays_within_cap_and_quota_and_takes_all_it_may(requested: int, held: int, cap: int,
                                                                      claimed: int, quota: int) -> None:
    try:
        grant = claim_grant(requested, held=held, cap=cap, claimed_this_period=claimed, quota=quota)
    except DomainError as error:
        assert requested < 1 or held >= cap or claimed >= quota
        assert error.code in {"invalid_count", "holding_cap_reached", "refresh_quota_used"}
        return
    assert 1 <= grant <= requested
    assert held + grant <= cap and claimed + grant <= quota
    # it stops only at one of the three bounds
    assert grant == requested or held + grant == cap or claimed + grant == quota


@given(INSTANTS, ZONES, st.sampled_from(["day", "week"]))
def test_the_quota_period_contains_now_and_ends_where_the_next_begins(now: datetime, tz: ZoneInfo,
                                                                      period: str) -> None:
    key, end = quota_period(now, period, tz)
    assert end > now
    span = timedelta(days=1 if period == "day" else 7)
    assert end - span - timedelta(hours=1) <= now  # (an hour's slack for a daylight-saving change)
    assert quota_period(end - timedelta(microseconds=1), period, tz)[0] == key
    next_key, next_end = quota_period(end, period, tz)
    assert next_key != key and next_end > end
    local_end = end.astimezone(tz)
    assert (local_end.hour, local_end.minute) == (0, 0)
    if period == "week":
        assert local_end.isoweekday() == 1


@given(INSTANTS, st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9)), ZONES)
def test_time_split_by_day_adds_up_and_each_day_is_one_day_at_most(start: datetime, length: timedelta,
                                                                  tz: ZoneInfo) -> None:
    days = split_by_day(start, start + length, tz)
    assert sum(days.values()) == pytest.approx(length.total_seconds(), abs=1e-3)
    assert all(0 < seconds <= 25 * 3600 for seconds in days.values())
    keys = sorted(days)
    assert keys == list(days)  # in order
    if keys:
        assert keys[0] == start.astimezone(tz).date().isoformat()
        first, last = datetime.fromisoformat(keys[0]), datetime.fromisoformat(keys[-1])
        assert (last - first).days == len(keys) - 1  # consecutive days


days_or_never = st.none() | st.floats(min_value=0.01, max_value=60)
policies = st.builds(
    AllocationPolicy,
    reclaim_rules=st.lists(st.builds(ReclaimRule, pool_id=st.none() | POOLS,
                                     layer=st.none() | st.sampled_from(["need_found", "paid_in_full"]),
                                     not_processed_days=days_or_never, not_converted_days=days_or_never),
                           max_size=4).map(lambda extra: [ReclaimRule(), *extra]),
    reclaim_warning_hours=st.floats(min_value=0, max_value=100), exempt_deals_in_progress=st.booleans())


@given(policies, POOLS, st.integers(0, 100), INSTANTS, st.booleans(),
       st.none() | st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=30)),
       st.none() | st.timedeltas(min_value=timedelta(days=-5), max_value=timedelta(days=30)))
def test_a_reclaim_comes_after_the_lead_was_taken_and_its_warning_before(
        policy: AllocationPolicy, pool: str, stage: int, held_since: datetime, called: bool,
        advanced_after: timedelta | None, mark_for: timedelta | None) -> None:
    advanced = None if advanced_after is None else held_since + advanced_after
    protected = None if mark_for is None else held_since + mark_for  # an approved mark's expiry
    lead = HeldLeadFacts(pool, stage, held_since, called, advanced, protected)
    schedule = reclaim_schedule(lead, policy)
    rule = policy.reclaim_rule(pool, stage)
    if rule.not_converted_days is None and (called or rule.not_processed_days is None):
        assert schedule is None
        return
    assert schedule is not None
    assert schedule.reclaim_at > held_since
    assert schedule.warn_at <= schedule.reclaim_at
    # an approved mark holds the reclaim back until it expires, and never longer
    unmarked = reclaim_schedule(HeldLeadFacts(pool, stage, held_since, called, advanced), policy)
    assert unmarked is not None
    if protected is not None and policy.exempt_deals_in_progress:
        assert schedule.reclaim_at == max(unmarked.reclaim_at, protected)
    else:
        assert schedule == unmarked
    # an advance of the stage never brings the reclaim forward
    later = HeldLeadFacts(pool, stage, held_since, called, (advanced or held_since) + timedelta(days=1), protected)
    postponed = reclaim_schedule(later, policy)
    assert postponed is not None and postponed.reclaim_at >= schedule.reclaim_at
    # a call never brings it forward either
    if not called:
        after_call = reclaim_schedule(HeldLeadFacts(pool, stage, held_since, True, advanced, protected), policy)
        assert after_call is None or after_call.reclaim_at >= schedule.reclaim_at


@given(st.lists(st.timedeltas(min_value=timedelta(days=-30), max_value=timedelta(0)), max_size=20), INSTANTS,
       st.integers(1, 10), st.floats(min_value=0.5, max_value=14), st.floats(min_value=0.5, max_value=14))
def test_contact_pressure_counts_only_the_window_and_rests_past_the_limit(
        ago: list[timedelta], now: datetime, max_calls: int, window: float, rest: float) -> None:
    policy = AllocationPolicy(contact_max_calls=max_calls, contact_window_days=window, contact_rest_days=rest)
    calls = [now + d for d in ago]
    recent, rests_until = contact_pressure(calls, now, policy)
    start = now - timedelta(days=window)
    assert recent == sorted(t for t in calls if t >= start)
    assert (rests_until is not None) == (len(recent) > max_calls)
    if rests_until is not None:
        assert rests_until == now + timedelta(days=rest)


@given(st.one_of(st.none(), st.just(""), st.from_regex(r"\+[1-9][0-9]{3,14}", fullmatch=True)))
def test_a_masked_number_keeps_its_length_and_ends_and_hides_the_middle(e164: str | None) -> None:
    masked = mask_phone(e164)
    if not e164:
        assert masked == e164
        return
    assert masked is not None and len(masked) == len(e164)
    assert mask_phone(masked) == masked  # masking a masked number changes nothing
    assert masked.count("*") >= min(4, len(e164) - 2)
    if len(e164) > 8:
        assert masked[-4:] == e164[-4:] and masked[:-8] == e164[:-8]
