"""A version of a tip: its content, media and review. The aggregate decides its own edits, its
submission and its review, and returns the change with the events it causes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from telesales_contracts.marketplace import TipReviewed, TipSubmitted
from telesales_contracts.topics import MARKETPLACE_TIP_REVIEWED, MARKETPLACE_TIP_SUBMITTED

from .announcements import Announcement
from .workflow import ReviewOutcome, VersionStatus, check_editable, check_reviewable, check_submittable

# The content fields of a version (those an author edits).
CONTENT_FIELDS = ("title", "summary", "body", "stage", "product_line", "tags", "price")


@dataclass(frozen=True)
class Media:
    file_id: Any  # the GridFS file
    content_type: str
    length: int
    filename: str

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Media | None:
        if not doc:
            return None
        return cls(doc["file_id"], doc["content_type"], doc["length"], doc["filename"])

    def as_doc(self) -> dict[str, Any]:
        return {"file_id": self.file_id, "content_type": self.content_type, "length": self.length,
                "filename": self.filename}


@dataclass(frozen=True)
class Content:
    """What the author writes (the HTTP layer validated each field)."""

    title: str
    summary: str | None
    body: str | None
    stage: str
    product_line: str
    tags: list[str] | None
    price: int

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Content:
        return cls(**{name: doc.get(name) for name in CONTENT_FIELDS})

    def changed(self, changes: Mapping[str, Any]) -> Content:
        return replace(self, **content_changes(changes))

    def as_doc(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}


def content_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """The content fields among `changes` (anything else is not the author's to change)."""
    return {k: v for k, v in changes.items() if k in CONTENT_FIELDS}


@dataclass(frozen=True)
class Review:
    reviewer_id: str
    decision: str
    failed_checks: tuple[str, ...]
    comment: str | None
    reviewed_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Review:
        return cls(doc["reviewer_id"], doc["decision"], tuple(doc["failed_checks"]), doc.get("comment"),
                   doc["reviewed_at"])

    def as_doc(self) -> dict[str, Any]:
        return {"reviewer_id": self.reviewer_id, "decision": self.decision, "failed_checks": list(self.failed_checks),
                "comment": self.comment, "reviewed_at": self.reviewed_at}


# ---- the changes a version makes (the store compiles each into one guarded update) ----------------------


@dataclass(frozen=True)
class EditVersion:
    """Set `fields` and make the version a draft, if its status is still `from_status`."""

    tip_id: str
    number: int
    from_status: VersionStatus
    fields: dict[str, Any]
    at: datetime


@dataclass(frozen=True)
class SubmitVersion:
    tip_id: str
    number: int
    from_status: VersionStatus
    at: datetime


@dataclass(frozen=True)
class ReviewVersion:
    """Record the review of a version still submitted."""

    tip_id: str
    number: int
    review: Review
    at: datetime


@dataclass(frozen=True)
class AttachMedia:
    """Point the version at `media` (and make it a draft) if it is still editable."""

    tip_id: str
    number: int
    media: Media
    at: datetime


@dataclass(frozen=True)
class Version:
    tip_id: str
    number: int
    author_id: str
    status: VersionStatus
    content: Content
    media: Media | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None = None
    review: Review | None = None
    reviews: tuple[Review, ...] = field(default=())

    @classmethod
    def draft(cls, tip_id: str, number: int, author_id: str, content: Content, media: Media | None,
              now: datetime) -> Version:
        return cls(tip_id, number, author_id, VersionStatus.DRAFT, content, media, now, now)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Version:
        review = doc.get("review")
        return cls(doc["tip_id"], doc["version"], doc["author_id"], VersionStatus(doc["status"]),
                   Content.from_doc(doc), Media.from_doc(doc.get("media")), doc["created_at"], doc["updated_at"],
                   doc.get("submitted_at"), Review.from_doc(review) if review else None,
                   tuple(Review.from_doc(r) for r in doc.get("reviews", [])))

    def as_doc(self) -> dict[str, Any]:
        """The version as stored (without its keys) and as the API shows it."""
        doc = {"tip_id": self.tip_id, "version": self.number, "author_id": self.author_id,
               "status": self.status.value, **self.content.as_doc(),
               "media": self.media.as_doc() if self.media else None, "created_at": self.created_at,
               "updated_at": self.updated_at, "reviews": [r.as_doc() for r in self.reviews]}
        if self.submitted_at is not None:
            doc["submitted_at"] = self.submitted_at
        if self.review is not None:
            doc["review"] = self.review.as_doc()
        return doc

    def facts(self) -> dict[str, Any]:
        """What every event about the version says of it."""
        content = self.content
        return {"tip_id": self.tip_id, "version": self.number, "author_id": self.author_id, "title": content.title,
                "stage": content.stage, "product_line": content.product_line, "tags": content.tags or [],
                "price": content.price}

    def edit(self, changes: Mapping[str, Any], now: datetime) -> EditVersion:
        """Drafts and rejected versions only; a rejected one goes back to draft."""
        check_editable(self.status)
        return EditVersion(self.tip_id, self.number, self.status, content_changes(changes), now)

    def attach_media(self, media: Media, now: datetime) -> AttachMedia:
        check_editable(self.status)
        return AttachMedia(self.tip_id, self.number, media, now)

    def check_editable(self) -> None:
        check_editable(self.status)

    def submit(self, now: datetime) -> tuple[Version, SubmitVersion, Announcement]:
        check_submittable(self.status)
        after = replace(self, status=VersionStatus.SUBMITTED, submitted_at=now, updated_at=now)
        event = TipSubmitted(**self.facts(), submitted_at=now)
        return after, SubmitVersion(self.tip_id, self.number, self.status, now), Announcement(
            MARKETPLACE_TIP_SUBMITTED, event, self.tip_id)

    def decide(self, reviewer_id: str, outcome: ReviewOutcome, comment: str | None,
               now: datetime) -> tuple[Version, ReviewVersion, Announcement]:
        """The reviewer's decision on the submitted version (not the author's own)."""
        check_reviewable(self.status, self.author_id, reviewer_id)
        review = Review(reviewer_id, outcome.decision, outcome.failed_checks, comment, now)
        after = replace(self, status=VersionStatus(outcome.decision), review=review, updated_at=now,
                        reviews=(*self.reviews, review))
        event = TipReviewed(**self.facts(), reviewer_id=reviewer_id, decision=outcome.decision,
                            failed_checks=list(outcome.failed_checks), comment=comment, reviewed_at=now)
        return after, ReviewVersion(self.tip_id, self.number, review, now), Announcement(
            MARKETPLACE_TIP_REVIEWED, event, self.tip_id)
