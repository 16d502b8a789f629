"""The changes the Lead aggregate (lead.py) decides, typed: each says what changes and on what
condition, and a `Decision` carries one with the events it causes. store/lead_writes.py compiles each
into one atomic conditional single-document update. Pure data, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from telesales_contracts import Topic
from telesales_contracts.allocation import DistributionStrategy

from . import AgentFacts

Entry = dict[str, Any]  # a history entry (history.py)


# ---- what a decision says ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Announcement:
    """An event a change causes, written with the change (to the lead's embedded outbox)."""

    topic: Topic
    data: BaseModel
    event_id: str | None = None  # a fixed id makes a repeated decision (a sweep run twice) one event


@dataclass(frozen=True, slots=True)
class SameHold:
    """Condition: the lead is still held by `holder` since `held_since` (nothing happened meanwhile); with
    `unchanged_since`, also not changed since (its `updated_at` as read): the judgement still stands."""

    holder: str
    held_since: Any
    unchanged_since: Any = None


@dataclass(frozen=True, slots=True)
class Release:
    """Back to its public pool from `agent_id`; a drop (returned, reclaimed) counts against the agent."""

    agent_id: str
    counts_as_drop: bool
    dropped_by: tuple[str, ...]  # after the release
    entry: Entry
    at: datetime
    reclaimed: bool = False
    condition: SameHold | None = None
    team_id: str | None = None  # the team of the hold that ends: strategy 7 sends a reclaimed lead back to it


@dataclass(frozen=True, slots=True)
class Close:
    agent_id: str
    reason: str
    entry: Entry
    at: datetime
    condition: SameHold


@dataclass(frozen=True, slots=True)
class Win:
    """The holder wins the lead: declared (counts toward nothing yet), or confirmed at once by an order
    (`confirmation`, with the purchases it adds and whether the person is a buyer now)."""

    agent_id: str
    amount_fen: int
    team_id: str | None
    entry: Entry
    at: datetime
    condition: SameHold
    confirmation: Mapping[str, Any] | None = None
    buyer: bool = False
    declared_over: Mapping[str, Any] | None = None  # what a rejection of the win puts back (RejectWin)


@dataclass(frozen=True, slots=True)
class ConfirmWin:
    """A declared win of `won_by` is confirmed (if it is still unconfirmed when written): its amount becomes
    the confirmed one, the person's purchases grow by it, and a buyer once over the tenant's threshold."""

    won_by: str
    confirmation: Mapping[str, Any]
    amount_fen: int
    buyer: bool
    entry: Entry
    at: datetime


@dataclass(frozen=True, slots=True)
class RejectWin:
    """A declared win of `won_by` (declared at `won_at`) is rejected, if it is still that unconfirmed win when
    written: the lead is held by `won_by` again since `at` (the reclaim clocks start again), with `restore` (what
    the declaration changed), and `rejection` kept for the lead's page."""

    won_by: str
    won_at: Any  # as stored: the condition of the write
    team_id: str | None
    restore: Mapping[str, Any]
    rejection: Mapping[str, Any]
    entry: Entry
    at: datetime


@dataclass(frozen=True, slots=True)
class Warn:
    """Remember the warning about one deadline (`warn_key`), if none was given since `previous`."""

    warn_key: str
    previous: str | None
    condition: SameHold


@dataclass(frozen=True, slots=True)
class AdvanceStage:
    """A stage move, judged against the lead as it is when written: only a move forward restarts the
    not-converted clock, and the funnel step never moves back (see `funnel_step_after`)."""

    percent: int
    step: str | None
    deal_in_progress: bool | None  # only False is applied: it withdraws the lead's deal-in-progress mark
    entry: Entry
    at: datetime


@dataclass(frozen=True, slots=True)
class MarkHot:
    """The lead's latest signal (the hot marker; the one that happened last wins) and its history entry."""

    last_signal: Mapping[str, Any]
    entry: Entry
    at: datetime


@dataclass(frozen=True, slots=True)
class Assign:
    """To `agent` if the lead is still in one of `from_statuses`; with `also` in the same write."""

    agent: AgentFacts
    strategy: DistributionStrategy
    from_statuses: tuple[str, ...]
    entry: Entry
    at: datetime
    also: MarkHot | None = None


@dataclass(frozen=True, slots=True)
class RecordCalls:
    count: int
    recent_calls: tuple[datetime, ...]
    last_call_at: datetime
    rest_until: datetime | None  # set only when it rests the lead longer than before
    holder_called: bool  # the holder made an effective call since getting it (stops the not-processed clock)
    valid_contact: bool  # first connected call: the funnel's first step
    entries: tuple[Entry, ...]
    at: datetime
    dial_days: tuple[str, ...] | None = None  # the holder's dial days (local dates) after, when they changed
    dial_streak_at: datetime | None = None  # set when these calls complete the dial streak


@dataclass(frozen=True, slots=True)
class SetDealMark:
    """The lead's deal-in-progress mark becomes `mark` (a request, or its decision), if the hold is the same
    and the mark is still the one judged (`previous_request`, and `previous_status` when given)."""

    mark: Mapping[str, Any]
    previous_request: str | None
    previous_status: str | None
    entry: Entry
    at: datetime
    condition: SameHold


@dataclass(frozen=True, slots=True)
class StopCalls:
    """A complaint or its number on the do-not-call list: the lead leaves its agent and every pool for good,
    if it is still as judged (`still`: its status and holder then; None: whatever it is)."""

    reason: str
    last_holder: str | None
    entry: Entry
    at: datetime
    still: tuple[str, str | None] | None = None


@dataclass(frozen=True, slots=True)
class Touch:
    """The person arrived again (leads.merged.v1): outside references kept; a new touch counted; a closed
    lead reopened."""

    external_refs: tuple[Mapping[str, Any], ...]
    new_touch: bool
    reopen: bool
    entries: tuple[Entry, ...]
    at: datetime


LeadChange = (Release | Close | Win | Warn | AdvanceStage | MarkHot | Assign | RecordCalls | StopCalls | Touch
              | SetDealMark | ConfirmWin | RejectWin)


@dataclass(frozen=True, slots=True)
class Decision:
    change: LeadChange
    events: tuple[Announcement, ...] = ()
