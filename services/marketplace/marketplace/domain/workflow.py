"""The review workflow of tips and their versions: statuses, the checklist and the rules of each step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from telesales_runtime.errors import DomainError

from .actors import Actor


class VersionStatus(StrEnum):
    DRAFT = "draft"  # the author edits it
    SUBMITTED = "submitted"  # waiting for review
    APPROVED = "approved"  # passed review: listed (or was, before a newer version replaced it)
    REJECTED = "rejected"  # failed review: the author edits it again (back to draft)


class TipStatus(StrEnum):
    UNLISTED = "unlisted"  # no version approved yet
    LISTED = "listed"  # a version is for sale
    DELISTED = "delisted"  # taken off sale; a newly approved version lists it again


# The review checklist (审核清单): every item must pass for a version to be approved.
REVIEW_CHECKLIST: dict[str, str] = {
    "accurate": "The script is correct about products, prices and rules.",
    "compliant": "No false promises, no pressure selling, nothing the regulator forbids.",
    "no_customer_data": "No customer's name, phone number or other personal data (text or media).",
    "stage_matches": "It helps with the call stage it is filed under.",
    "practical": "An agent can use it on a call as it is (a concrete script, not general advice).",
    "media_quality": "Media, if any, is audible/readable and short.",
}


@dataclass(frozen=True)
class ReviewOutcome:
    decision: str  # approved or rejected
    failed_checks: tuple[str, ...]


def review(checks: Mapping[str, bool]) -> ReviewOutcome:
    """The decision on a version from the reviewer's answers to every checklist item: approved when all
    pass, rejected (naming what failed) otherwise."""
    missing = [item for item in REVIEW_CHECKLIST if item not in checks]
    unknown = [item for item in checks if item not in REVIEW_CHECKLIST]
    if missing or unknown:
        raise DomainError("invalid_checklist", "answer every checklist item, and only those",
                          missing=missing, unknown=unknown)
    failed = tuple(item for item in REVIEW_CHECKLIST if not checks[item])
    return ReviewOutcome("rejected" if failed else "approved", failed)


def check_editable(status: str) -> str:
    """A version's status after an edit by its author: drafts and rejected versions only (a rejected
    version goes back to draft)."""
    if status not in (VersionStatus.DRAFT, VersionStatus.REJECTED):
        raise DomainError("version_not_editable", f"a {status} version cannot be changed; create a new version")
    return VersionStatus.DRAFT


def check_reviewer(actor: Actor) -> None:
    if not actor.privileged:
        raise DomainError("not_reviewer", "only reviewers review tips")


def check_submittable(status: str) -> None:
    if status != VersionStatus.DRAFT:
        raise DomainError("not_a_draft", f"only a draft can be submitted (this version is {status})")


def check_reviewable(status: str, author_id: str, reviewer_id: str) -> None:
    if status != VersionStatus.SUBMITTED:
        raise DomainError("not_submitted", f"only a submitted version can be reviewed (this one is {status})")
    if author_id == reviewer_id:
        raise DomainError("own_tip", "authors do not review their own tips")


def check_new_version(latest_status: str) -> None:
    """A new version starts from an approved one; while a newer one is a draft, submitted or rejected,
    that one is to be worked on."""
    if latest_status != VersionStatus.APPROVED:
        raise DomainError("version_in_progress", f"the latest version is {latest_status}; edit or submit it")


@dataclass(frozen=True)
class Listing:
    """What approving version `version` does to the tip: the version listed and the one it replaces."""

    listed_version: int
    replaced_version: int | None


def approve(tip_listed_version: int | None, version: int) -> Listing:
    """The listed version stays listed until a newer one is approved; an older one never replaces it."""
    if tip_listed_version is not None and version <= tip_listed_version:
        raise DomainError("stale_version", f"version {version} is older than the listed version {tip_listed_version}")
    return Listing(version, tip_listed_version)


def check_delistable(tip_status: str) -> None:
    if tip_status != TipStatus.LISTED:
        raise DomainError("not_listed", f"the tip is {tip_status}")


