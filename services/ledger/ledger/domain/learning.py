"""Learning as the ledger knows it (不学回收): the marketplace's `marketplace.learn-progressed.v1` reports.

Learning is what keeps a wallet's coins, not spending: a report counts as learning when it adds watch time
to a tip or learns it (watched to the completion threshold) for the first time. A report repeated, or
arriving after a later one of the same tip, adds nothing and does not move the wallet's clock. The totals
per user (seconds watched, tips learned) are kept; a reclaim records them, so the learning done since the
reclaim (the qualification to get coins again) is the difference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .changes import Record


@dataclass(frozen=True)
class TipProgress:
    """A user's learning of one tip as seen so far: the most watch time reported, learned or not."""

    watched_seconds: int = 0
    learned: bool = False

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None) -> TipProgress:
        doc = doc or {}
        return cls(int(doc.get("watched_seconds", 0)), bool(doc.get("learned", False)))


@dataclass(frozen=True)
class LearningTotals:
    """Seconds watched and tips learned by a user (all time, or since a mark)."""

    seconds: int = 0
    tips: int = 0

    @classmethod
    def of(cls, doc: Mapping[str, Any] | None) -> LearningTotals:
        doc = doc or {}
        return cls(int(doc.get("seconds", 0)), int(doc.get("tips", 0)))

    def since(self, mark: LearningTotals) -> LearningTotals:
        return LearningTotals(max(0, self.seconds - mark.seconds), max(0, self.tips - mark.tips))

    def record(self) -> Record:
        return {"seconds": self.seconds, "tips": self.tips}


@dataclass(frozen=True)
class LearnReport:
    """One `marketplace.learn-progressed.v1`: the tip's watch time and learned flag, all sessions."""

    user_id: str
    tip_id: str
    watched_seconds: int
    learned: bool
    at: datetime


@dataclass
class Learned:
    """What a batch of reports adds for one user: seconds, tips newly learned, the time of the last learning
    (the wallet's idle clock), and each tip's progress after it."""

    user_id: str
    seconds: int = 0
    tips: int = 0
    last_learned_at: datetime | None = None
    progress: dict[str, TipProgress] = field(default_factory=dict)


def learn(reports: Sequence[LearnReport], known: Mapping[tuple[str, str], TipProgress]) -> dict[str, Learned]:
    """The learning the reports add, per user (users whose reports added nothing are left out). `known`: the
    progress of each (user, tip) stored before; the reports of one tip are applied in order."""
    out: dict[str, Learned] = {}
    seen = dict(known)
    for report in reports:
        before = seen.get((report.user_id, report.tip_id), TipProgress())
        added = max(0, report.watched_seconds - before.watched_seconds)
        newly_learned = report.learned and not before.learned
        if not added and not newly_learned:
            continue
        after = TipProgress(max(before.watched_seconds, report.watched_seconds), before.learned or report.learned)
        seen[(report.user_id, report.tip_id)] = after
        learned = out.setdefault(report.user_id, Learned(report.user_id))
        learned.seconds += added
        learned.tips += int(newly_learned)
        learned.progress[report.tip_id] = after
        if learned.last_learned_at is None or report.at > learned.last_learned_at:
            learned.last_learned_at = report.at
    return out
