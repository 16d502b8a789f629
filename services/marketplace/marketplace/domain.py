"""The marketplace's rules, pure (no I/O): the review workflow of tips and their versions, the search
tokens that make Chinese text findable, byte ranges of media, purchase transfer ids, learning progress,
deep learners and the struggle mapping from funnel steps to call stages."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from telesales_contracts.marketplace import CallStage, FunnelStep
from telesales_runtime.errors import DomainError

# ---- review workflow ------------------------------------------------------------------------------------


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


# ---- search tokens --------------------------------------------------------------------------------------

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]+|[A-Za-z0-9]+")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
UNIGRAM = "1:"  # prefix of single CJK characters (indexed so one-character queries find something)


def search_tokens(*texts: str | None) -> list[str]:
    """What a document is found by: the character bigrams of each run of Chinese characters (MongoDB's
    text index does not segment Chinese), single Chinese characters (prefixed), and ASCII words and
    numbers in lower case. Distinct, in first-seen order."""
    seen: dict[str, None] = {}
    for text in texts:
        for run in _TOKEN.findall(text or ""):
            if _CJK_RUN.match(run):
                for i in range(len(run) - 1):
                    seen.setdefault(run[i:i + 2])
                for ch in run:
                    seen.setdefault(UNIGRAM + ch)
            else:
                seen.setdefault(run.lower())
    return list(seen)


def query_tokens(query: str) -> list[str]:
    """The tokens a query matches documents by: bigrams of its Chinese runs (a run of one character
    matches by that character), ASCII words in lower case."""
    seen: dict[str, None] = {}
    for run in _TOKEN.findall(query):
        if _CJK_RUN.match(run):
            if len(run) == 1:
                seen.setdefault(UNIGRAM + run)
            for i in range(len(run) - 1):
                seen.setdefault(run[i:i + 2])
        else:
            seen.setdefault(run.lower())
    return list(seen)


# ---- media ranges ---------------------------------------------------------------------------------------


class RangeNotSatisfiable(DomainError):
    def __init__(self, size: int) -> None:
        super().__init__("range_not_satisfiable", f"the media has {size} bytes", size=size)
        self.size = size


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive (first, last) byte of a `Range: bytes=...` header (RFC 9110) for a body of `size`
    bytes; None when the whole body is to be sent (no header, another unit, or several ranges, which a
    server may answer in full). Raises RangeNotSatisfiable for a range outside the body or malformed."""
    if header is None:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes":
        return None
    if "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        raise RangeNotSatisfiable(size)
    first_s, last_s = first_s.strip(), last_s.strip()
    try:
        if first_s == "":  # suffix: the last N bytes
            length = int(last_s)
            if length <= 0 or size == 0:
                raise RangeNotSatisfiable(size)
            return max(0, size - length), size - 1
        first = int(first_s)
        last = int(last_s) if last_s else size - 1
    except ValueError as error:
        raise RangeNotSatisfiable(size) from error
    if first < 0 or first >= size or last < first:
        raise RangeNotSatisfiable(size)
    return first, min(last, size - 1)


# ---- purchases ------------------------------------------------------------------------------------------


def purchase_id(buyer_id: str, tip_id: str) -> str:
    """One purchase per buyer and tip."""
    return hashlib.sha256(f"{buyer_id}\x00{tip_id}".encode()).hexdigest()[:32]


def transfer_id(buyer_id: str, tip_id: str, attempt: int) -> str:
    """The ledger transfer id of a purchase attempt: the same for the same buyer, tip and attempt, so a
    repeated request is paid once. A new attempt starts only after the previous one was refused (nothing
    paid), so a buyer never pays twice for a tip."""
    return f"mkt-{purchase_id(buyer_id, tip_id)}-{attempt}"


class PurchaseStatus(StrEnum):
    PENDING = "pending"  # asked the ledger, no answer yet
    GRANTED = "granted"  # the ledger posted the transfer: access
    REFUSED = "refused"  # the ledger refused; a new attempt may be made


def next_attempt(status: str | None, attempt: int) -> int | None:
    """The attempt a purchase request starts: 1 for a new purchase, one more after a refusal; None when
    the purchase is pending or granted (the request is answered with that purchase as it stands)."""
    if status is None:
        return 1
    if status == PurchaseStatus.REFUSED:
        return attempt + 1
    return None


# ---- learning -------------------------------------------------------------------------------------------


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


def business_day(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).date().isoformat()


# ---- struggle -------------------------------------------------------------------------------------------

DEFAULT_STAGE_OF_STEP: dict[FunnelStep, CallStage] = {
    FunnelStep.CONNECT_60S: CallStage.OPENING,
    FunnelStep.INTENT: CallStage.OBJECTION_HANDLING,
    FunnelStep.VISIT: CallStage.CLOSING,
    FunnelStep.PLAN: CallStage.CLOSING,
}


@dataclass(frozen=True)
class Struggle:
    step: FunnelStep
    agent_rate: float
    team_rate: float
    gap: float
    stage: CallStage


def struggle(agent: Mapping[FunnelStep, float], team: Mapping[FunnelStep, float],
             stage_of_step: Mapping[FunnelStep, CallStage]) -> Struggle | None:
    """The funnel step where the agent's rate falls furthest below the team's (steps both know; ties go
    to the earlier step of the funnel), mapped to its call stage; None when the agent is at or above
    the team everywhere. Gaps count to 6 decimal places, as reported: a smaller one is no gap, and two gaps
    equal to 6 places are a tie."""
    worst: Struggle | None = None
    for step in FunnelStep:
        if step not in agent or step not in team:
            continue
        gap = round(team[step] - agent[step], 6)
        if gap > 0 and (worst is None or gap > worst.gap):
            worst = Struggle(step, agent[step], team[step], gap, stage_of_step[step])
    return worst


def best_rated(tips: Iterable[Mapping[str, Any]], owned: set[str], limit: int) -> list[Mapping[str, Any]]:
    """The best-rated tips not owned: by average rating (unrated last), then number of ratings, sales,
    and tip id for a stable order."""
    candidates = [t for t in tips if t["tip_id"] not in owned]
    candidates.sort(key=lambda t: (-(t.get("rating_avg") or 0.0), -(t.get("rating_count") or 0),
                                   -(t.get("sales") or 0), t["tip_id"]))
    return candidates[:limit]
