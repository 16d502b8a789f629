"""Learning a bought tip: progress and watch time per buyer and tip, and the learner (per user) who may
become a deep learner. `learn` is the rule of one report; `learn_step` what it changes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from telesales_contracts.marketplace import DeepLearnerFlagged, LearnProgressed
from telesales_contracts.topics import MARKETPLACE_DEEP_LEARNER_FLAGGED, MARKETPLACE_LEARN_PROGRESSED

from .announcements import Announcement
from .tips import CountOnTip


@dataclass(frozen=True)
class Learning:
    progress_percent: int
    watched_seconds: int
    learned: bool
    rewatches: int
    last_session: str | None
    session_seconds: Mapping[str, int]


@dataclass(frozen=True)
class LearnReport:
    session_id: str
    progress_percent: int  # where the playback is now
    session_seconds: int  # watch time of this session so far (cumulative: a retried report counts once)


def learn(before: Learning, report: LearnReport, learned_at_percent: int) -> tuple[Learning, bool]:
    """The learning after a report, and whether the report started a rewatch (a new session on a tip
    learned before). Watch time counts each session once, at its largest reported value."""
    known = before.session_seconds.get(report.session_id, 0)
    added = max(0, report.session_seconds - known)
    sessions = dict(before.session_seconds)
    sessions[report.session_id] = max(known, report.session_seconds)
    new_session = report.session_id not in before.session_seconds
    rewatch = new_session and before.learned
    progress = max(before.progress_percent, report.progress_percent)
    return Learning(progress, before.watched_seconds + added, before.learned or progress >= learned_at_percent,
                    before.rewatches + int(rewatch), report.session_id, sessions), rewatch


def is_deep_learner(tips_learned: int, watched_seconds: int, min_tips: int, min_seconds: int) -> bool:
    """At least `min_tips` tips learned and more than `min_seconds` watched."""
    return tips_learned >= min_tips and watched_seconds > min_seconds


def learning_of(doc: Mapping[str, Any] | None) -> Learning:
    """A buyer's learning of a tip as stored (nothing yet when None)."""
    doc = doc or {}
    return Learning(doc.get("progress_percent", 0), doc.get("watched_seconds", 0), doc.get("learned", False),
                    doc.get("rewatches", 0), doc.get("last_session"), doc.get("sessions", {}))


@dataclass(frozen=True)
class SaveLearning:
    """Store the buyer's learning of the tip as it is after the report."""

    user_id: str
    tip_id: str
    learning: Learning
    at: datetime


@dataclass(frozen=True)
class CountLearner:
    """Add to the learner's totals (per user, across tips), and read them back."""

    user_id: str
    tips_learned: int
    watched_seconds: int


@dataclass(frozen=True)
class LearnStep:
    """What one report changes: the learning, the tip's counters, the learner's totals."""

    before: Learning
    after: Learning
    rewatch: bool
    save: SaveLearning
    tip_counts: CountOnTip
    learner: CountLearner

    @property
    def newly_learned(self) -> bool:
        return self.after.learned and not self.before.learned

    def progressed(self, session_id: str, now: datetime) -> Announcement:
        after = self.after
        event = LearnProgressed(user_id=self.save.user_id, tip_id=self.save.tip_id, session_id=session_id,
                                progress_percent=after.progress_percent, watched_seconds=after.watched_seconds,
                                learned=after.learned, rewatch=self.rewatch, rewatches=after.rewatches, at=now)
        return Announcement(MARKETPLACE_LEARN_PROGRESSED, event, self.save.user_id)


def learn_step(user_id: str, tip_id: str, before: Learning, report: LearnReport, learned_at_percent: int,
               now: datetime) -> LearnStep:
    """A buyer's report on a tip: a tip reaching `learned_at_percent` counts as learned (once), a new
    session on a learned tip as a rewatch (the tip counts the buyer as a rewatcher once)."""
    after, rewatch = learn(before, report, learned_at_percent)
    newly_learned = after.learned and not before.learned
    counts = {"learned": int(newly_learned), "rewatchers": int(rewatch and before.rewatches == 0)}
    return LearnStep(before, after, rewatch, SaveLearning(user_id, tip_id, after, now),
                     CountOnTip(tip_id, counts if any(counts.values()) else {}),
                     CountLearner(user_id, int(newly_learned), after.watched_seconds - before.watched_seconds))


@dataclass(frozen=True)
class FlagLearner:
    user_id: str
    at: datetime


@dataclass(frozen=True)
class Learner:
    """A user's totals across tips, and when it was flagged a deep learner (once)."""

    user_id: str
    tips_learned: int
    watched_seconds: int
    flagged_at: datetime | None

    @classmethod
    def from_doc(cls, user_id: str, doc: Mapping[str, Any] | None) -> Learner:
        doc = doc or {}
        return cls(user_id, doc.get("tips_learned", 0), doc.get("watched_seconds", 0), doc.get("flagged_at"))

    def flag_if_deep(self, min_tips: int, min_seconds: int,
                     now: datetime) -> tuple[Learner, FlagLearner, Announcement] | None:
        """Flag the learner once it has learned enough tips and watched long enough."""
        if self.flagged_at is not None or not is_deep_learner(self.tips_learned, self.watched_seconds, min_tips,
                                                              min_seconds):
            return None
        event = DeepLearnerFlagged(user_id=self.user_id, tips_learned=self.tips_learned,
                                   watched_seconds=self.watched_seconds, min_tips=min_tips, min_seconds=min_seconds,
                                   flagged_at=now)
        flagged = Learner(self.user_id, self.tips_learned, self.watched_seconds, now)
        return flagged, FlagLearner(self.user_id, now), Announcement(MARKETPLACE_DEEP_LEARNER_FLAGGED, event,
                                                                      self.user_id)
