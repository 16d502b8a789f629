"""When a held lead goes back to its pool without its agent asking (回收), and what may hold it back. Pure.

Three deadlines, the earliest applies:
- not processed: no effective call (>= `effective_call_seconds`) by the holder within N days of getting it;
  short calls do not count (a lead is processed when it is worked, not when its number was dialled);
- not converted: the stage has not advanced for M days;
- dialled without converting (seed 002): the holder dialled it on `dial_streak_days` consecutive days since
  getting it or its last stage advance, and it did not move: it drops out of the holder's list.

A deal-in-progress mark protects a lead only once the holder's supervisor approved it, and only until it
expires: a deadline that falls before then moves to the expiry, so the clocks apply again after it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from telesales_contracts.allocation import ReclaimKind

if TYPE_CHECKING:
    from . import AllocationPolicy

DEAL_MARK_PENDING = "pending"
DEAL_MARK_APPROVED = "approved"
DEAL_MARK_REFUSED = "refused"

DIAL_DAYS_KEPT = 62  # the dial days a lead keeps (local dates): enough for the longest streak a policy names


@dataclass(frozen=True, slots=True)
class HeldLeadFacts:
    pool_id: str
    stage_percent: int
    held_since: datetime
    called_since_held: bool  # the holder made an effective call since getting it (processed)
    stage_advanced_at: datetime | None
    protected_until: datetime | None = None  # an approved deal-in-progress mark's expiry
    dial_streak_at: datetime | None = None  # when the holder's consecutive dial days reached the policy's


@dataclass(frozen=True, slots=True)
class ReclaimSchedule:
    kind: ReclaimKind
    reclaim_at: datetime
    warn_at: datetime

    def due(self, at: datetime) -> bool:
        """Whether the sweep has anything to do about the lead at `at` (the warning comes first)."""
        return self.warn_at <= at


def reclaim_schedule(lead: HeldLeadFacts, policy: AllocationPolicy) -> ReclaimSchedule | None:
    """When a held lead will be reclaimed, and why, given what has happened to it; None if never.

    Not processed: no effective call since the agent got it, N days after getting it. Not converted: the
    stage has not advanced for M days (counted from the later of getting it and the last advance). Dialled
    without converting: when the dial streak was reached. The earliest deadline applies, and not before an
    approved deal-in-progress mark expires."""
    rule = policy.reclaim_rule(lead.pool_id, lead.stage_percent)
    candidates: list[tuple[datetime, ReclaimKind]] = []
    if not lead.called_since_held and rule.not_processed_days is not None:
        candidates.append((lead.held_since + timedelta(days=rule.not_processed_days), ReclaimKind.NOT_PROCESSED))
    if rule.not_converted_days is not None:
        since = max(lead.held_since, lead.stage_advanced_at or lead.held_since)
        candidates.append((since + timedelta(days=rule.not_converted_days), ReclaimKind.NOT_CONVERTED))
    if lead.dial_streak_at is not None and policy.dial_streak_days is not None:
        candidates.append((lead.dial_streak_at, ReclaimKind.DIALLED_WITHOUT_CONVERTING))
    if not candidates:
        return None
    reclaim_at, kind = min(candidates, key=lambda c: (c[0], c[1].value))
    if policy.exempt_deals_in_progress and lead.protected_until is not None:
        reclaim_at = max(reclaim_at, lead.protected_until)
    return ReclaimSchedule(kind, reclaim_at, reclaim_at - timedelta(hours=policy.reclaim_warning_hours))


def deal_mark_in_force(mark: Mapping[str, Any] | None, at: datetime) -> datetime | None:
    """When an approved deal-in-progress mark stops protecting its lead, if it still does at `at`."""
    if not mark or mark.get("status") != DEAL_MARK_APPROVED:
        return None
    expires_at: datetime | None = mark.get("expires_at")
    return expires_at if expires_at is not None and expires_at > at else None


def deal_mark_expiry(mark: Mapping[str, Any] | None) -> datetime | None:
    """The expiry of an approved mark (whether or not it has passed): the reclaim rule moves deadlines to it."""
    if not mark or mark.get("status") != DEAL_MARK_APPROVED:
        return None
    return mark.get("expires_at")


def dial_days_after(kept: Iterable[str], new: Iterable[str]) -> tuple[str, ...]:
    """The local dates (ISO) a lead was dialled by its holder, with `new` ones, sorted and bounded."""
    return tuple(sorted(set(kept) | set(new))[-DIAL_DAYS_KEPT:])


def longest_dial_streak(days: Iterable[str]) -> int:
    """The longest run of consecutive dates among `days` (ISO dates)."""
    ordinals = sorted({date.fromisoformat(d).toordinal() for d in days})
    longest = run = 0
    previous = None
    for day in ordinals:
        run = run + 1 if previous is not None and day == previous + 1 else 1
        longest = max(longest, run)
        previous = day
    return longest
