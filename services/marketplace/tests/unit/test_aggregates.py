"""The marketplace's aggregates without I/O: what a Tip, a Version, a Purchase and a Learner decide, the
typed changes they return and the events they announce."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from marketplace.domain import (
    REVIEW_CHECKLIST,
    Actor,
    Content,
    DailyActive,
    DomainError,
    Learner,
    Learning,
    LearnReport,
    Media,
    Purchase,
    PurchaseStatus,
    Tip,
    TipStatus,
    Version,
    VersionStatus,
    learn_step,
    request_purchase,
    requested,
    review,
    transfer_id,
)
from marketplace.domain.access import may_read, readable
from marketplace.domain.purchases import Conflict, FlagConflict, OpenPurchase, Refusal, RetryPurchase
from telesales_contracts.ledger import TransferPosted, TransferRejected
from telesales_contracts.marketplace import ActivityKind
from telesales_contracts.topics import (
    LEDGER_TRANSFER_REQUESTED,
    MARKETPLACE_DAILY_ACTIVE,
    MARKETPLACE_DEEP_LEARNER_FLAGGED,
    MARKETPLACE_PURCHASE_COMPLETED,
    MARKETPLACE_PURCHASE_REFUSED,
    MARKETPLACE_PURCHASE_REQUESTED,
    MARKETPLACE_TIP_DELISTED,
    MARKETPLACE_TIP_LISTED,
    MARKETPLACE_TIP_REVIEWED,
    MARKETPLACE_TIP_SUBMITTED,
)

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(hours=1)
CONTENT = Content("报价三步法", "先价值后价格", "第一步：确认需求。", "quoting", "car-insurance", ["报价"], 30)
AUTHOR, BUYER, REVIEWER = Actor("zhang-san"), Actor("li-si"), Actor("reviewer-1", "operator")
ALL_PASS = dict.fromkeys(REVIEW_CHECKLIST, True)


def code_of(error: pytest.ExceptionInfo[DomainError]) -> str:
    return error.value.code


def listed_tip(version: int = 1) -> Tip:
    return Tip("t1", AUTHOR.user_id, TipStatus.LISTED, version, version, 30)


def version(number: int = 1, status: VersionStatus = VersionStatus.DRAFT) -> Version:
    return replace(Version.draft("t1", number, AUTHOR.user_id, CONTENT, None, NOW), status=status)


# ---- tips and versions ----------------------------------------------------------------------------------


def test_a_new_tip_is_unlisted_with_version_1_a_draft() -> None:
    new = Tip.create("t1", AUTHOR.user_id, CONTENT, NOW)
    assert (new.tip.status, new.tip.latest_version, new.tip.listed_version) == (TipStatus.UNLISTED, 1, None)
    assert (new.first.number, new.first.status, new.first.content, new.first.created_at) == (
        1, VersionStatus.DRAFT, CONTENT, NOW)


def test_only_the_author_writes_a_tip() -> None:
    with pytest.raises(DomainError) as raised:
        listed_tip().check_author(BUYER.user_id)
    assert code_of(raised) == "not_author"


def test_an_edit_changes_content_only_and_remembers_the_status_it_expects() -> None:
    edit = version(status=VersionStatus.REJECTED).edit({"title": "新标题", "status": "approved", "price": 40}, LATER)
    assert (edit.from_status, edit.fields, edit.at) == (VersionStatus.REJECTED, {"title": "新标题", "price": 40}, LATER)
    with pytest.raises(DomainError) as raised:
        version(status=VersionStatus.SUBMITTED).edit({"title": "x"}, LATER)
    assert code_of(raised) == "version_not_editable"


def test_a_new_version_starts_from_the_approved_latest_with_its_media() -> None:
    media = Media("file-1", "audio/mpeg", 10, "a.mp3")
    latest = replace(version(status=VersionStatus.APPROVED), media=media)
    new = listed_tip().new_version(latest, {"price": 50, "author_id": "someone"}, LATER)
    assert (new.after_latest, new.version.number, new.version.status) == (1, 2, VersionStatus.DRAFT)
    assert (new.version.content.price, new.version.content.title, new.version.media) == (50, CONTENT.title, media)
    assert new.version.author_id == AUTHOR.user_id
    with pytest.raises(DomainError) as raised:
        listed_tip().new_version(version(status=VersionStatus.SUBMITTED), {}, LATER)
    assert code_of(raised) == "version_in_progress"


def test_submitting_a_draft_announces_it_and_is_guarded_on_the_draft_status() -> None:
    after, change, event = version().submit(LATER)
    assert (after.status, after.submitted_at, change.from_status) == (VersionStatus.SUBMITTED, LATER,
                                                                      VersionStatus.DRAFT)
    assert (event.topic, event.key, event.data.version) == (MARKETPLACE_TIP_SUBMITTED, "t1", 1)
    with pytest.raises(DomainError) as raised:
        after.submit(LATER)
    assert code_of(raised) == "not_a_draft"


def test_a_review_records_the_decision_and_names_failed_checks() -> None:
    submitted = version(status=VersionStatus.SUBMITTED)
    outcome = review(ALL_PASS | {"compliant": False})
    after, change, event = submitted.decide(REVIEWER.user_id, outcome, "改一下", LATER)
    assert (after.status, after.review, after.reviews) == (VersionStatus.REJECTED, change.review, (change.review,))
    assert change.review.failed_checks == ("compliant",)
    assert (event.topic, event.data.decision, event.data.failed_checks) == (MARKETPLACE_TIP_REVIEWED, "rejected",
                                                                           ["compliant"])
    with pytest.raises(DomainError) as raised:
        submitted.decide(AUTHOR.user_id, review(ALL_PASS), None, LATER)
    assert code_of(raised) == "own_tip"


def test_listing_replaces_the_listed_version_never_with_an_older_one() -> None:
    newer = version(3, VersionStatus.APPROVED)
    listing, event = listed_tip(2).list_with(newer, LATER)
    assert (listing.version, listing.at, event.topic, event.data.replaced_version) == (
        newer, LATER, MARKETPLACE_TIP_LISTED, 2)
    assert "报价" in listing.search_terms and "1:报" in listing.search_terms
    with pytest.raises(DomainError) as raised:
        listed_tip(2).list_with(version(2, VersionStatus.APPROVED), LATER)
    assert code_of(raised) == "stale_version"


def test_the_author_or_an_operator_delists_a_listed_tip() -> None:
    change, event = listed_tip().delist(REVIEWER, "过时", LATER)
    assert (change.tip_id, change.reason, event.topic, event.data.delisted_by) == (
        "t1", "过时", MARKETPLACE_TIP_DELISTED, REVIEWER.user_id)
    with pytest.raises(DomainError) as raised:
        listed_tip().delist(BUYER, None, LATER)
    assert code_of(raised) == "not_author"
    with pytest.raises(DomainError) as raised:
        replace(listed_tip(), status=TipStatus.DELISTED).delist(AUTHOR, None, LATER)
    assert code_of(raised) == "not_listed"


def test_ratings_and_forwards_need_a_listed_tip() -> None:
    unlisted = Tip("t1", AUTHOR.user_id, TipStatus.UNLISTED, 1, None)
    with pytest.raises(DomainError) as raised:
        unlisted.rate(BUYER.user_id, 5, None, LATER)
    assert code_of(raised) == "not_listed"
    with pytest.raises(DomainError) as raised:
        unlisted.forward("f1", BUYER.user_id, "wang-wu", None, LATER)
    assert code_of(raised) == "not_listed"
    with pytest.raises(DomainError) as raised:
        listed_tip().forward("f1", BUYER.user_id, BUYER.user_id, None, LATER)
    assert code_of(raised) == "forward_to_self"
    rating, event = listed_tip(2).rate(BUYER.user_id, 4, "好", LATER)
    assert (rating.version, rating.stars, event.data.author_id) == (2, 4, AUTHOR.user_id)


# ---- purchases ------------------------------------------------------------------------------------------


def pending(attempt: int = 1) -> Purchase:
    change = request_purchase(None, listed_tip(), BUYER.user_id, NOW)
    assert isinstance(change, OpenPurchase)
    purchase = change.purchase
    for _ in range(attempt - 1):
        retry = request_purchase(replace(purchase, status=PurchaseStatus.REFUSED), listed_tip(), BUYER.user_id, NOW)
        assert isinstance(retry, RetryPurchase)
        purchase = retry.purchase
    return purchase


def test_a_first_request_opens_a_pending_purchase_of_the_listed_version() -> None:
    purchase = pending()
    assert (purchase.status, purchase.attempt, purchase.version, purchase.price, purchase.seller_id) == (
        PurchaseStatus.PENDING, 1, 1, 30, AUTHOR.user_id)
    assert purchase.transfer_ids == (transfer_id(BUYER.user_id, "t1", 1),) == (purchase.transfer_id,)
    assert [a.topic for a in requested(purchase)] == [LEDGER_TRANSFER_REQUESTED, MARKETPLACE_PURCHASE_REQUESTED]
    assert {a.key for a in requested(purchase)} == {BUYER.user_id}


def test_a_pending_or_granted_purchase_answers_a_repeated_request_as_it_stands() -> None:
    for status in (PurchaseStatus.PENDING, PurchaseStatus.GRANTED):
        assert request_purchase(replace(pending(), status=status), listed_tip(), BUYER.user_id, LATER) is None


def test_after_a_refusal_a_new_attempt_gets_a_new_transfer_id() -> None:
    refused = replace(pending(), status=PurchaseStatus.REFUSED, refusal=Refusal("insufficient_funds", None, None, "no", NOW))
    retry = request_purchase(refused, listed_tip(2), BUYER.user_id, LATER)
    assert isinstance(retry, RetryPurchase)
    after = retry.purchase
    assert (retry.from_attempt, after.attempt, after.status, after.refusal, after.version) == (
        1, 2, PurchaseStatus.PENDING, None, 2)
    assert after.transfer_ids == (refused.transfer_id, transfer_id(BUYER.user_id, "t1", 2))


def test_authors_do_not_buy_their_own_tips_and_nobody_buys_an_unlisted_one() -> None:
    with pytest.raises(DomainError) as raised:
        request_purchase(None, listed_tip(), AUTHOR.user_id, NOW)
    assert code_of(raised) == "own_tip"
    with pytest.raises(DomainError) as raised:
        request_purchase(None, replace(listed_tip(), status=TipStatus.DELISTED), BUYER.user_id, NOW)
    assert code_of(raised) == "not_listed"


def answer(purchase: Purchase, **data: object) -> dict[str, object]:
    return {"transfer_id": purchase.transfer_id, "buyer_id": purchase.buyer_id, "seller_id": purchase.seller_id,
            "tip_id": purchase.tip_id, "price": purchase.price, "request_event_id": "e1"} | data


def test_only_the_pending_attempt_is_decided_by_an_answer() -> None:
    purchase = pending(2)
    assert purchase.answered_status(transfer_id(BUYER.user_id, "t1", 1)) == "earlier_attempt"
    assert replace(purchase, status=PurchaseStatus.GRANTED).answered_status(purchase.transfer_id) == "already_granted"
    assert purchase.answered_status(purchase.transfer_id) is None


def test_a_posted_transfer_grants_the_attempt_it_paid() -> None:
    purchase = pending()
    posted = TransferPosted.model_validate(answer(purchase, seller_amount=27, platform_amount=3, buyer_balance=70,
                                                  day="2026-11-24", posted_at=NOW))
    change, event = purchase.grant(posted, LATER)
    assert (change.transfer_id, change.seller_amount, change.granted_at) == (purchase.transfer_id, 27, LATER)
    assert (event.topic, event.data.seller_amount, event.key) == (MARKETPLACE_PURCHASE_COMPLETED, 27, BUYER.user_id)


def test_a_refusal_refuses_the_attempt_but_a_transfer_id_conflict_only_flags_it() -> None:
    purchase = pending()
    limit = TransferRejected.model_validate(answer(purchase, reason="daily_limit", limit="buyer_daily_count",
                                                   limit_value=3, message="limit", rejected_at=NOW))
    change, event = purchase.refuse(limit, LATER)
    assert (change.refusal.reason, change.refusal.limit, change.refusal.limit_value) == (
        "daily_limit", "buyer_daily_count", 3)
    assert event.topic == MARKETPLACE_PURCHASE_REFUSED
    conflict = TransferRejected.model_validate(answer(purchase, reason="transfer_id_conflict", message="other",
                                                      rejected_at=NOW))
    assert purchase.refuse(conflict, LATER) == FlagConflict(purchase.purchase_id, Conflict("other", LATER))


def test_a_purchase_reads_back_as_it_was_stored() -> None:
    purchase = replace(pending(), status=PurchaseStatus.GRANTED, granted_at=LATER, seller_amount=27,
                       platform_amount=3, ledger_posted_at=LATER, conflict=Conflict("other", NOW))
    assert Purchase.from_doc(purchase.as_doc()) == purchase


# ---- learning, access, activity -------------------------------------------------------------------------


def test_learning_counts_a_tip_learned_once_and_the_learner_is_flagged_once() -> None:
    step = learn_step("li-si", "t1", Learning(0, 0, False, 0, None, {}), LearnReport("s1", 95, 600), 90, NOW)
    assert (step.newly_learned, step.tip_counts.counts) == (True, {"learned": 1, "rewatchers": 0})
    assert (step.learner.tips_learned, step.learner.watched_seconds) == (1, 600)
    again = learn_step("li-si", "t1", step.after, LearnReport("s1", 100, 700), 90, LATER)
    assert (again.newly_learned, again.tip_counts.counts, again.learner.watched_seconds) == (False, {}, 100)
    learner = Learner("li-si", 3, 4000, None)
    flagged = learner.flag_if_deep(3, 3600, NOW)
    assert flagged is not None
    after, flag, event = flagged
    assert (after.flagged_at, flag.at, event.topic) == (NOW, NOW, MARKETPLACE_DEEP_LEARNER_FLAGGED)
    assert after.flag_if_deep(3, 3600, LATER) is None
    assert Learner("li-si", 2, 4000, None).flag_if_deep(3, 3600, NOW) is None


def test_who_reads_a_tip_and_which_versions() -> None:
    assert may_read(AUTHOR, AUTHOR.user_id, None) and may_read(REVIEWER, AUTHOR.user_id, None)
    assert may_read(BUYER, AUTHOR.user_id, "granted")
    assert not may_read(BUYER, AUTHOR.user_id, "pending") and not may_read(None, AUTHOR.user_id, "granted")
    assert readable(BUYER, AUTHOR.user_id, "approved") and not readable(BUYER, AUTHOR.user_id, "draft")
    assert readable(AUTHOR, AUTHOR.user_id, "draft")


def test_the_first_activity_of_a_day_is_announced_for_the_marketplace_day() -> None:
    from zoneinfo import ZoneInfo

    active = DailyActive.of("li-si", ActivityKind.VISIT, datetime(2026, 11, 24, 17, 0, tzinfo=UTC),
                            ZoneInfo("Asia/Shanghai"))
    assert active.day == "2026-11-25"
    announced = active.announcement()
    assert (announced.topic, announced.key, announced.data.first_activity) == (
        MARKETPLACE_DAILY_ACTIVE, "li-si", ActivityKind.VISIT)


def test_a_version_reads_back_as_it_was_stored() -> None:
    reviewed, _, _ = version(status=VersionStatus.SUBMITTED).decide(REVIEWER.user_id, review(ALL_PASS), None, LATER)
    with_media = replace(reviewed, media=Media("file-1", "audio/mpeg", 10, "a.mp3"))
    assert Version.from_doc(with_media.as_doc()) == with_media
