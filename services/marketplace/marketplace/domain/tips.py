"""A tip: its author, whether and which version is listed, and what buyers did with it. The aggregate
decides a tip's creation, new versions, listing, delisting, and the visits, ratings and forwards it
counts; each method returns the change and the events it causes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telesales_contracts.marketplace import TipDelisted, TipForwarded, TipListed, TipRated, TipVisited
from telesales_contracts.topics import (
    MARKETPLACE_TIP_DELISTED,
    MARKETPLACE_TIP_FORWARDED,
    MARKETPLACE_TIP_LISTED,
    MARKETPLACE_TIP_RATED,
    MARKETPLACE_TIP_VISITED,
)
from telesales_runtime.errors import DomainError

from .actors import Actor
from .announcements import Announcement
from .text import search_tokens
from .versions import Content, Version
from .workflow import TipStatus, approve, check_delistable, check_new_version


@dataclass(frozen=True)
class NewTip:
    tip: Tip
    first: Version


@dataclass(frozen=True)
class NewVersion:
    """Add `version`, if the tip's latest version is still `after_latest`."""

    version: Version
    after_latest: int


@dataclass(frozen=True)
class ListTip:
    """List the tip with `version`: its facts copied to the tip for browsing, and its search terms."""

    version: Version
    search_terms: list[str]
    at: datetime


@dataclass(frozen=True)
class DelistTip:
    """Take the tip off sale, if it is still listed."""

    tip_id: str
    reason: str | None
    at: datetime


@dataclass(frozen=True)
class CountOnTip:
    """Add to the tip's counters (visits, forwards, learned, rewatchers, sales)."""

    tip_id: str
    counts: dict[str, int]


@dataclass(frozen=True)
class Rating:
    tip_id: str
    version: int
    user_id: str
    stars: int
    comment: str | None
    rated_at: datetime


@dataclass(frozen=True)
class Forward:
    forward_id: str
    tip_id: str
    from_user_id: str
    to_user_id: str
    note: str | None
    forwarded_at: datetime


def check_forward_target(from_user_id: str, to_user_id: str) -> None:
    if to_user_id == from_user_id:
        raise DomainError("forward_to_self", "forward the tip to a colleague")


@dataclass(frozen=True)
class Tip:
    tip_id: str
    author_id: str
    status: TipStatus
    latest_version: int
    listed_version: int | None
    price: int | None = None  # of the listed version

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Tip:
        return cls(doc["tip_id"], doc["author_id"], TipStatus(doc["status"]), doc["latest_version"],
                   doc.get("listed_version"), doc.get("price"))

    @classmethod
    def create(cls, tip_id: str, author_id: str, content: Content, now: datetime) -> NewTip:
        """A new tip, unlisted, with version 1 as a draft."""
        tip = cls(tip_id, author_id, TipStatus.UNLISTED, 1, None)
        return NewTip(tip, Version.draft(tip_id, 1, author_id, content, None, now))

    def check_author(self, user_id: str) -> None:
        if self.author_id != user_id:
            raise DomainError("not_author", "only the tip's author may do this")

    def new_version(self, latest: Version, changes: Mapping[str, Any], now: datetime) -> NewVersion:
        """A new draft starting from the latest version, which must be approved (one version in progress
        at a time). The listed version stays listed until this one is approved."""
        check_new_version(latest.status)
        number = self.latest_version + 1
        draft = Version.draft(self.tip_id, number, latest.author_id, latest.content.changed(changes), latest.media,
                              now)
        return NewVersion(draft, self.latest_version)

    def list_with(self, version: Version, now: datetime) -> tuple[ListTip, Announcement]:
        """Approving `version` lists it, replacing the listed version (never by an older one)."""
        listing = approve(self.listed_version, version.number)
        content = version.content
        terms = search_tokens(content.title, content.summary, content.body, *(content.tags or []))
        event = TipListed(**version.facts(), replaced_version=listing.replaced_version, listed_at=now)
        return ListTip(version, terms, now), Announcement(MARKETPLACE_TIP_LISTED, event, self.tip_id)

    def delist(self, actor: Actor, reason: str | None, now: datetime) -> tuple[DelistTip, Announcement]:
        """The author or an operator takes a listed tip off sale."""
        if self.author_id != actor.user_id and actor.role != "operator":
            raise DomainError("not_author", "only the author or an operator delists a tip")
        check_delistable(self.status)
        event = TipDelisted(tip_id=self.tip_id, version=self.listed_version, author_id=self.author_id,
                            delisted_by=actor.user_id, reason=reason, delisted_at=now)
        return DelistTip(self.tip_id, reason, now), Announcement(MARKETPLACE_TIP_DELISTED, event, self.tip_id)

    def check_buyable(self, buyer_id: str) -> None:
        if self.status != TipStatus.LISTED:
            raise DomainError("not_listed", f"tip {self.tip_id} is not for sale")
        if self.author_id == buyer_id:
            raise DomainError("own_tip", "authors do not buy their own tips")

    def visit(self, user_id: str, now: datetime) -> tuple[CountOnTip, Announcement]:
        event = TipVisited(user_id=user_id, tip_id=self.tip_id, visited_at=now)
        return CountOnTip(self.tip_id, {"visits": 1}), Announcement(MARKETPLACE_TIP_VISITED, event, user_id)

    def rate(self, user_id: str, stars: int, comment: str | None, now: datetime) -> tuple[Rating, Announcement]:
        """A buyer rates the listed version (once per version: the store refuses a second rating)."""
        if self.listed_version is None:
            raise DomainError("not_listed", "the tip has no listed version")
        rating = Rating(self.tip_id, self.listed_version, user_id, stars, comment, now)
        event = TipRated(user_id=user_id, tip_id=self.tip_id, version=self.listed_version, author_id=self.author_id,
                         stars=stars, comment=comment, rated_at=now)
        return rating, Announcement(MARKETPLACE_TIP_RATED, event, self.tip_id)

    def forward(self, forward_id: str, from_user_id: str, to_user_id: str, note: str | None,
                now: datetime) -> tuple[Forward, Announcement]:
        """A listed tip forwarded to a colleague."""
        check_forward_target(from_user_id, to_user_id)
        if self.status != TipStatus.LISTED:
            raise DomainError("not_listed", f"tip {self.tip_id} is not for sale")
        forward = Forward(forward_id, self.tip_id, from_user_id, to_user_id, note, now)
        event = TipForwarded(from_user_id=from_user_id, to_user_id=to_user_id, tip_id=self.tip_id, note=note,
                             forwarded_at=now)
        return forward, Announcement(MARKETPLACE_TIP_FORWARDED, event, to_user_id)
