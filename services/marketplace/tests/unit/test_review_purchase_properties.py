"""Properties of the marketplace's review, listing, purchase-attempt, rating and struggle rules
(domain.py) over random inputs; search and learning have theirs in test_domain_properties.py."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace import domain
from marketplace.domain import REVIEW_CHECKLIST, PurchaseStatus
from telesales_contracts.marketplace import CallStage, FunnelStep
from telesales_runtime.errors import DomainError

ITEMS = list(REVIEW_CHECKLIST)


@given(st.fixed_dictionaries({item: st.booleans() for item in ITEMS}))
def test_a_version_is_approved_exactly_when_every_check_passes(checks: dict[str, bool]) -> None:
    outcome = domain.review(checks)
    assert (outcome.decision == "approved") == all(checks.values())
    assert list(outcome.failed_checks) == [item for item in ITEMS if not checks[item]]  # checklist order


@given(st.dictionaries(st.sampled_from([*ITEMS, "extra", "", "Practical"]), st.booleans()))
def test_a_checklist_with_missing_or_unknown_items_is_refused(checks: dict[str, bool]) -> None:
    complete = set(checks) == set(ITEMS)
    if complete:
        domain.review(checks)
        return
    with pytest.raises(DomainError) as error:
        domain.review(checks)
    assert error.value.code == "invalid_checklist"
    assert set(error.value.details["missing"]) == set(ITEMS) - set(checks)
    assert set(error.value.details["unknown"]) == set(checks) - set(ITEMS)


@given(st.lists(st.integers(1, 30), max_size=30))
def test_the_listed_version_only_moves_forward(approvals: list[int]) -> None:
    listed: int | None = None
    for version in approvals:
        try:
            listing = domain.approve(listed, version)
        except DomainError as error:
            assert error.code == "stale_version" and listed is not None and version <= listed
            continue
        assert listing.replaced_version == listed
        assert listed is None or listing.listed_version > listed
        listed = listing.listed_version
    assert listed == (max(approvals) if approvals else None)


STATUSES = st.sampled_from([s.value for s in domain.VersionStatus])


@given(STATUSES, st.sampled_from(["edit", "submit", "new_version"]))
def test_only_drafts_and_rejected_versions_change_and_only_drafts_are_submitted(status: str, action: str) -> None:
    try:
        if action == "edit":
            assert domain.check_editable(status) == domain.VersionStatus.DRAFT
            assert status in (domain.VersionStatus.DRAFT, domain.VersionStatus.REJECTED)
        elif action == "submit":
            domain.check_submittable(status)
            assert status == domain.VersionStatus.DRAFT
        else:
            domain.check_new_version(status)
            assert status == domain.VersionStatus.APPROVED
    except DomainError:
        allowed = {"edit": {"draft", "rejected"}, "submit": {"draft"}, "new_version": {"approved"}}[action]
        assert status not in allowed


@given(st.lists(st.sampled_from([PurchaseStatus.GRANTED, PurchaseStatus.REFUSED, None]), max_size=12))
def test_a_buyer_pays_at_most_once_whatever_the_ledger_answers(answers: list[PurchaseStatus | None]) -> None:
    """A purchase request after each ledger answer (None: no answer yet, the attempt stays pending)."""
    status: str | None = None
    attempt = 0
    transfers: list[str] = []
    granted: set[str] = set()
    for answer in [*answers, None]:
        started = domain.next_attempt(status, attempt)
        if started is not None:
            assert started == attempt + 1
            attempt = started
            transfers.append(domain.transfer_id("buyer", "tip", attempt))
            status = PurchaseStatus.PENDING
        if status == PurchaseStatus.PENDING and answer is not None:
            status = answer
            if answer == PurchaseStatus.GRANTED:
                granted.add(transfers[-1])
    assert len(granted) <= 1
    assert len(set(transfers)) == len(transfers)  # every attempt its own transfer
    if granted:
        assert transfers[-1] in granted  # nothing was attempted after the grant


@given(st.text(max_size=20), st.text(max_size=20), st.text(max_size=20), st.text(max_size=20))
def test_purchase_ids_tell_buyers_and_tips_apart(buyer: str, tip: str, other_buyer: str, other_tip: str) -> None:
    same = domain.purchase_id(buyer, tip) == domain.purchase_id(other_buyer, other_tip)
    assert same == ((buyer, tip) == (other_buyer, other_tip))


tips = st.lists(st.fixed_dictionaries({
    "tip_id": st.text(alphabet="abcdef", min_size=1, max_size=4),
    "rating_avg": st.none() | st.floats(min_value=1, max_value=5),
    "rating_count": st.integers(0, 50), "sales": st.integers(0, 50)}), max_size=25, unique_by=lambda t: t["tip_id"])


@given(tips, st.randoms(use_true_random=False), st.data(), st.integers(0, 30))
def test_best_rated_is_a_stable_top_list_of_what_one_does_not_own(
        candidates: list[dict[str, Any]], rnd: Any, data: st.DataObject, limit: int) -> None:
    owned = set(data.draw(st.lists(st.sampled_from([t["tip_id"] for t in candidates]), max_size=5))
                if candidates else [])
    best = domain.best_rated(candidates, owned, limit)
    shuffled = list(candidates)
    rnd.shuffle(shuffled)
    assert [t["tip_id"] for t in domain.best_rated(shuffled, owned, limit)] == [t["tip_id"] for t in best]
    assert len(best) == min(limit, len([t for t in candidates if t["tip_id"] not in owned]))
    assert not {t["tip_id"] for t in best} & owned
    ratings = [t["rating_avg"] or 0.0 for t in best]
    assert ratings == sorted(ratings, reverse=True)
    if best:
        chosen = {t["tip_id"] for t in best}
        left_out = [t for t in candidates if t["tip_id"] not in owned | chosen]
        assert all((t["rating_avg"] or 0.0) <= ratings[-1] for t in left_out)


rates = st.dictionaries(st.sampled_from(list(FunnelStep)), st.floats(min_value=0, max_value=1))


@given(rates, rates)
def test_the_struggle_is_the_widest_gap_below_the_team(agent: dict[FunnelStep, float],
                                                       team: dict[FunnelStep, float]) -> None:
    stage_of = {step: CallStage.CLOSING for step in FunnelStep} | dict(domain.DEFAULT_STAGE_OF_STEP)
    found = domain.struggle(agent, team, stage_of)
    # gaps count to 6 decimal places, as they are reported
    gaps = {step: round(team[step] - agent[step], 6) for step in FunnelStep if step in agent and step in team}
    if all(gap <= 0 for gap in gaps.values()):
        assert found is None
        return
    assert found is not None
    assert found.gap > 0 and found.gap == max(gaps.values())
    assert found.stage == stage_of[found.step]
    # ties go to the earlier step of the funnel
    order = list(FunnelStep)
    assert all(order.index(found.step) <= order.index(step) for step, gap in gaps.items() if gap == gaps[found.step])


@given(st.integers(0, 50), st.integers(0, 10_000), st.integers(0, 50), st.integers(0, 10_000),
       st.integers(0, 5), st.integers(0, 1000))
def test_learning_more_never_loses_the_deep_learner_status(tips_learned: int, seconds: int, more_tips: int,
                                                           more_seconds: int, min_tips: int, min_seconds: int) -> None:
    if domain.is_deep_learner(tips_learned, seconds, min_tips, min_seconds):
        assert domain.is_deep_learner(tips_learned + more_tips, seconds + more_seconds, min_tips, min_seconds)
