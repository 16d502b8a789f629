"""The marketplace's rules, pure (no I/O). Its aggregates decide and return typed changes with the
events they cause; the store compiles the changes into guarded MongoDB updates.

- `tips.Tip`: creation, new versions, listing, delisting, visits, ratings, forwards.
- `versions.Version`: edits, media, submission, review (the workflow's rules in `workflow`).
- `purchases.Purchase`: requests and the ledger's answers (the saga's rules).
- `learning`: learning progress, the learner and deep learners. `activity`: the first activity of a day.
- `struggle`: the funnel step an agent lags at and the tips to recommend. `text`: search tokens.
  `media`: byte ranges of downloads.
"""

from telesales_runtime.errors import DomainError

from .activity import DailyActive, business_day
from .actors import Actor
from .announcements import Announcement
from .learning import Learner, Learning, LearnReport, is_deep_learner, learn, learn_step, learning_of
from .media import RangeNotSatisfiable, byte_range
from .purchases import (
    Purchase,
    PurchaseStatus,
    check_bought,
    next_attempt,
    purchase_id,
    request_purchase,
    requested,
    transfer_id,
)
from .struggle import DEFAULT_STAGE_OF_STEP, Struggle, best_rated, struggle
from .text import UNIGRAM, query_tokens, search_tokens
from .tips import Tip, check_forward_target
from .versions import CONTENT_FIELDS, Content, Media, Version
from .workflow import (
    REVIEW_CHECKLIST,
    Listing,
    ReviewOutcome,
    TipStatus,
    VersionStatus,
    approve,
    check_delistable,
    check_editable,
    check_new_version,
    check_reviewable,
    check_submittable,
    review,
)

__all__ = [
    "CONTENT_FIELDS", "DEFAULT_STAGE_OF_STEP", "REVIEW_CHECKLIST", "UNIGRAM", "Actor", "Announcement", "Content",
    "DailyActive", "DomainError", "Learner", "LearnReport", "Learning", "Listing", "Media", "Purchase",
    "PurchaseStatus", "RangeNotSatisfiable", "ReviewOutcome", "Struggle", "Tip", "TipStatus", "Version",
    "VersionStatus", "approve", "best_rated", "business_day", "byte_range", "check_bought", "check_delistable",
    "check_editable", "check_forward_target", "check_new_version", "check_reviewable", "check_submittable",
    "is_deep_learner", "learn", "learn_step", "learning_of", "next_attempt", "purchase_id", "query_tokens",
    "request_purchase", "requested", "review", "search_tokens", "struggle", "transfer_id",
]
