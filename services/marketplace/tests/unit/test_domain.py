"""The marketplace's pure rules: review workflow, search tokens, byte ranges, purchase ids, learning,
deep learners and the struggle mapping."""

from __future__ import annotations

import pytest

from marketplace import domain
from marketplace.domain import (
    REVIEW_CHECKLIST,
    DomainError,
    Learning,
    LearnReport,
    RangeNotSatisfiable,
    byte_range,
    query_tokens,
    search_tokens,
)
from telesales_contracts.marketplace import CallStage, FunnelStep

ALL_PASS = dict.fromkeys(REVIEW_CHECKLIST, True)


# ---- review workflow ------------------------------------------------------------------------------------


def test_a_version_passing_every_check_is_approved() -> None:
    outcome = domain.review(ALL_PASS)
    assert (outcome.decision, outcome.failed_checks) == ("approved", ())


def test_a_version_failing_checks_is_rejected_naming_them_in_checklist_order() -> None:
    outcome = domain.review(ALL_PASS | {"no_customer_data": False, "accurate": False})
    assert (outcome.decision, outcome.failed_checks) == ("rejected", ("accurate", "no_customer_data"))


@pytest.mark.parametrize("checks", [{}, {k: True for k in list(REVIEW_CHECKLIST)[:-1]}, ALL_PASS | {"vibes": True}])
def test_every_checklist_item_and_only_those_must_be_answered(checks: dict[str, bool]) -> None:
    with pytest.raises(DomainError) as raised:
        domain.review(checks)
    assert raised.value.code == "invalid_checklist"


@pytest.mark.parametrize(("status", "allowed"), [("draft", True), ("rejected", True), ("submitted", False),
                                                 ("approved", False)])
def test_only_drafts_and_rejected_versions_are_editable(status: str, allowed: bool) -> None:
    if allowed:
        assert domain.check_editable(status) == "draft"
    else:
        with pytest.raises(DomainError, match="cannot be changed"):
            domain.check_editable(status)


def test_only_drafts_are_submitted_and_only_submitted_versions_reviewed() -> None:
    domain.check_submittable("draft")
    for status in ("submitted", "approved", "rejected"):
        with pytest.raises(DomainError):
            domain.check_submittable(status)
    domain.check_reviewable("submitted", "zhang-san", "reviewer-1")
    with pytest.raises(DomainError) as raised:
        domain.check_reviewable("draft", "zhang-san", "reviewer-1")
    assert raised.value.code == "not_submitted"


def test_authors_do_not_review_their_own_tips() -> None:
    with pytest.raises(DomainError) as raised:
        domain.check_reviewable("submitted", "zhang-san", "zhang-san")
    assert raised.value.code == "own_tip"


def test_a_new_version_starts_only_from_an_approved_one() -> None:
    domain.check_new_version("approved")
    for status in ("draft", "submitted", "rejected"):
        with pytest.raises(DomainError) as raised:
            domain.check_new_version(status)
        assert raised.value.code == "version_in_progress"


def test_approval_replaces_the_listed_version_and_never_goes_back() -> None:
    assert domain.approve(None, 1) == domain.Listing(1, None)
    assert domain.approve(1, 2) == domain.Listing(2, 1)
    with pytest.raises(DomainError) as raised:
        domain.approve(3, 2)
    assert raised.value.code == "stale_version"


def test_only_listed_tips_are_delisted() -> None:
    domain.check_delistable("listed")
    for status in ("unlisted", "delisted"):
        with pytest.raises(DomainError):
            domain.check_delistable(status)


# ---- search tokens --------------------------------------------------------------------------------------


def test_chinese_text_is_indexed_by_bigrams_and_characters_ascii_by_words() -> None:
    assert search_tokens("报价三步", "VIP Plan 2") == [
        "报价", "价三", "三步", "1:报", "1:价", "1:三", "1:步", "vip", "plan", "2"]


def test_punctuation_splits_runs_and_tokens_are_distinct() -> None:
    tokens = search_tokens("报价，报价！", "报价")
    assert tokens == ["报价", "1:报", "1:价"]
    assert "价报" not in tokens  # no bigram across punctuation


def test_a_query_matches_by_its_bigrams_and_a_single_character_by_itself() -> None:
    assert query_tokens("异议处理 VIP") == ["异议", "议处", "处理", "vip"]
    assert query_tokens("车") == ["1:车"]
    assert query_tokens("!!") == []


def test_every_query_token_of_a_phrase_in_the_text_is_in_its_tokens() -> None:
    text = "客户说太贵了怎么办：先认同，再拆分价格"
    assert set(query_tokens("太贵了怎么办")) <= set(search_tokens(text))
    assert not set(query_tokens("开场白")) & set(search_tokens(text))


# ---- byte ranges ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("bytes=0-99", (0, 99)), ("bytes=100-", (100, 999)), ("bytes=-100", (900, 999)),
    ("bytes=990-2000", (990, 999)), ("bytes=-5000", (0, 999)), ("items=0-1", None), ("bytes=0-1,5-9", None),
    ("bytes=999-999", (999, 999)),
])
def test_byte_ranges(header: str | None, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5-2", "bytes=-0", "bytes=abc", "bytes=1-x", "bytes=12"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as raised:
        byte_range(header, 1000)
    assert raised.value.size == 1000


# ---- purchases ------------------------------------------------------------------------------------------


def test_transfer_ids_are_deterministic_per_buyer_tip_and_attempt_and_valid_for_the_ledger() -> None:
    from pydantic import TypeAdapter

    from telesales_contracts.ledger import TransferId

    first = domain.transfer_id("li-si", "tip-1", 1)
    assert first == domain.transfer_id("li-si", "tip-1", 1)
    assert len({first, domain.transfer_id("li-si", "tip-1", 2), domain.transfer_id("li-si", "tip-2", 1),
                domain.transfer_id("wang-wu", "tip-1", 1)}) == 4
    # "a:b" + "c" and "a" + "b:c" do not collide
    assert domain.purchase_id("a:b", "c") != domain.purchase_id("a", "b:c")
    assert TypeAdapter(TransferId).validate_python(first) == first


def test_a_new_attempt_only_after_a_refusal() -> None:
    assert domain.next_attempt(None, 0) == 1
    assert domain.next_attempt("refused", 1) == 2
    assert domain.next_attempt("pending", 1) is None
    assert domain.next_attempt("granted", 3) is None


# ---- learning -------------------------------------------------------------------------------------------

START = Learning(0, 0, False, 0, None, {})


def test_watch_time_counts_each_session_once_at_its_largest_report() -> None:
    after, _ = domain.learn(START, LearnReport("s1", 30, 60), 90)
    after, _ = domain.learn(after, LearnReport("s1", 50, 100), 90)
    again, _ = domain.learn(after, LearnReport("s1", 50, 100), 90)  # a retried report
    assert (after.watched_seconds, again.watched_seconds) == (100, 100)
    later, _ = domain.learn(again, LearnReport("s1", 40, 80), 90)  # an older report arriving late
    assert (later.watched_seconds, later.progress_percent) == (100, 50)


def test_a_tip_is_learned_at_the_threshold_and_a_new_session_after_that_is_a_rewatch() -> None:
    after, rewatch = domain.learn(START, LearnReport("s1", 95, 300), 90)
    assert after.learned and not rewatch and after.rewatches == 0
    after, rewatch = domain.learn(after, LearnReport("s2", 10, 20), 90)
    assert rewatch and after.rewatches == 1 and after.learned and after.progress_percent == 95
    after, rewatch = domain.learn(after, LearnReport("s2", 20, 40), 90)
    assert not rewatch and after.rewatches == 1 and after.watched_seconds == 340


def test_deep_learners_need_seven_tips_and_more_than_twenty_minutes() -> None:
    assert domain.is_deep_learner(7, 1201, 7, 1200)
    assert not domain.is_deep_learner(7, 1200, 7, 1200)
    assert not domain.is_deep_learner(6, 5000, 7, 1200)


# ---- struggle -------------------------------------------------------------------------------------------


def test_the_step_furthest_below_the_team_maps_to_its_call_stage() -> None:
    agent = {FunnelStep.CONNECT_60S: 0.30, FunnelStep.INTENT: 0.10, FunnelStep.VISIT: 0.05, FunnelStep.PLAN: 0.02}
    team = {FunnelStep.CONNECT_60S: 0.35, FunnelStep.INTENT: 0.25, FunnelStep.VISIT: 0.06, FunnelStep.PLAN: 0.03}
    found = domain.struggle(agent, team, domain.DEFAULT_STAGE_OF_STEP)
    assert found is not None
    assert (found.step, found.stage, found.gap) == (FunnelStep.INTENT, CallStage.QUOTING, 0.15)
    low_connect = domain.struggle({FunnelStep.CONNECT_60S: 0.1}, {FunnelStep.CONNECT_60S: 0.4},
                                  domain.DEFAULT_STAGE_OF_STEP)
    assert low_connect is not None and low_connect.stage is CallStage.OPENING


def test_no_struggle_when_at_or_above_the_team_and_steps_missing_on_one_side_are_skipped() -> None:
    assert domain.struggle({FunnelStep.INTENT: 0.3}, {FunnelStep.INTENT: 0.3}, domain.DEFAULT_STAGE_OF_STEP) is None
    assert domain.struggle({FunnelStep.INTENT: 0.1}, {FunnelStep.PLAN: 0.3}, domain.DEFAULT_STAGE_OF_STEP) is None


def test_the_mapping_is_configurable() -> None:
    mapping = dict(domain.DEFAULT_STAGE_OF_STEP) | {FunnelStep.PLAN: CallStage.QUOTING}
    found = domain.struggle({FunnelStep.PLAN: 0.0}, {FunnelStep.PLAN: 0.2}, mapping)
    assert found is not None and found.stage is CallStage.QUOTING


def test_best_rated_tips_not_owned_come_first() -> None:
    tips = [{"tip_id": "a", "rating_avg": 4.0, "rating_count": 3}, {"tip_id": "b", "rating_avg": 4.8, "rating_count": 5},
            {"tip_id": "c", "rating_avg": None, "rating_count": 0}, {"tip_id": "d", "rating_avg": 4.8, "rating_count": 9},
            {"tip_id": "e", "rating_avg": 5.0, "rating_count": 1}]
    assert [t["tip_id"] for t in domain.best_rated(tips, {"e"}, 3)] == ["d", "b", "a"]


def test_the_stage_mapping_setting_keeps_the_default_for_steps_not_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from marketplace.settings import MarketplaceSettings

    monkeypatch.setenv("MARKETPLACE_STAGE_OF_STEP", '{"plan": "quoting"}')
    mapping = MarketplaceSettings().stage_of_step
    assert mapping[FunnelStep.PLAN] is CallStage.QUOTING
    assert mapping[FunnelStep.CONNECT_60S] is CallStage.OPENING
    monkeypatch.setenv("MARKETPLACE_STAGE_OF_STEP", '{"plan": "smalltalk"}')
    with pytest.raises(ValueError, match="stage_of_step"):
        MarketplaceSettings()
