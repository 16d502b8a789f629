"""The Lead aggregate: what can happen to a lead, as rules. Pure (no I/O).

A `Lead` is what the rules need to know of a stored lead. Each of its methods decides one act (an
agent returns, closes or wins it, the sweep reclaims or warns, a push assigns it, a call, a stage move,
a signal, a complaint or a new touch arrives) and returns a `Decision`: the typed change to make and the
events it causes. store/lead_writes.py compiles each change into one atomic conditional single-document
update (the same write carries the events, into the lead's embedded outbox), so the condition a change
states (e.g. "still the same hold") is checked by the database at the moment of writing.

The states: pooled (in a public pool) -> held (an agent has it) -> pooled again (returned, reclaimed,
its agent left), closed (no sale), won, or do_not_call (a complaint; for good). A closed lead the person
comes back to is pooled again."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from telesales_contracts.activity import CallLogged, LeadSignal, LeadStageChanged
from telesales_contracts.allocation import (
    DealMarkDecided,
    DealMarkRequested,
    DistributionStrategy,
    HotLead,
    LeadAssigned,
    LeadClosed,
    LeadReclaimed,
    LeadReturned,
    LeadWon,
    ReclaimWarning,
)
from telesales_contracts.leads import LeadOutcome
from telesales_contracts.topics import (
    ALLOCATION_ASSIGNED,
    ALLOCATION_CLOSED,
    ALLOCATION_DEAL_MARK_DECIDED,
    ALLOCATION_DEAL_MARK_REQUESTED,
    ALLOCATION_HOT_LEAD,
    ALLOCATION_RECLAIM_WARNING,
    ALLOCATION_RECLAIMED,
    ALLOCATION_RETURNED,
    ALLOCATION_WON,
    LEADS_OUTCOME,
)
from telesales_runtime.errors import DomainError

from .. import history
from . import (
    DEAL_MARK_APPROVED,
    DEAL_MARK_PENDING,
    DEAL_MARK_REFUSED,
    AgentFacts,
    AllocationPolicy,
    ReclaimSchedule,
    contact_pressure,
    deal_mark_in_force,
    dial_days_after,
    funnel_step_after,
    longest_dial_streak,
)
from .changes import (
    AdvanceStage,
    Announcement,
    Assign,
    Close,
    Decision,
    Entry,
    MarkHot,
    RecordCalls,
    Release,
    SameHold,
    SetDealMark,
    StopCalls,
    Touch,
    Warn,
    Win,
)
from .dialing import CLOSED, DO_NOT_CALL, HELD, POOLED, WON, DialVerdict, dial_verdict

# The lead's states live with the dial rule that reads them; the aggregate's module names them too.
__all__ = ["CLOSED", "DO_NOT_CALL", "HELD", "POOLED", "WON", "DialVerdict", "Lead", "funnel_step_after", "signal_summary"]

# ---- rules -----------------------------------------------------------------------------------------------


def signal_summary(signal: LeadSignal) -> dict[str, Any]:
    # `at` first: the store keeps the largest, compared field by field, so the signal that happened last
    # stays whatever order signals arrive in
    return {"at": signal.occurred_at, "kind": signal.kind.value, "detail": signal.detail}


# ---- the aggregate ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Lead:
    """A lead as the allocator's rules see it."""

    lead_id: str
    tenant_id: str
    status: str
    business_line: str
    pool_id: str
    score: int
    lead_grade: str
    holder: str | None = None
    holder_team: str | None = None
    holder_grade: str | None = None
    held_since: Any = None  # as stored: the condition of every write about this hold
    stage_percent: int = 0
    funnel_step: str | None = None
    dropped_by: tuple[str, ...] = ()
    recent_calls: tuple[datetime, ...] = ()
    last_call_at: datetime | None = None
    rest_until: datetime | None = None
    dedicated_agent: str | None = None
    warned_for: str | None = None
    external_refs: tuple[Mapping[str, Any], ...] = field(default=())
    product_interest: str | None = None
    region: str | None = None
    previous_holders: tuple[str, ...] = ()
    last_holder: str | None = None
    deal_mark: Mapping[str, Any] | None = None
    progress_at: datetime | None = None  # the hold's start or its last forward stage move
    dial_days: tuple[str, ...] = ()  # local dates the holder dialled it since progress_at
    dial_streak_at: datetime | None = None
    phone_e164: str | None = None
    last_team: str | None = None  # the team of the last hold that ended in a release
    last_reclaimed: bool = False  # that release was a reclaim (回收), not a return
    won: Mapping[str, Any] | None = None  # won_by, won_at, won_amount_fen, win_confirmed: as stored (domain/wins.py)
    purchases_fen: int = 0  # confirmed purchases so far (the buyer pool's threshold)
    updated_at: datetime | None = None  # as stored: a reclaim applies to the lead as the sweep judged it

    def why_not_placeable(self, now: datetime) -> str | None:
        """Why a push may not place this lead now (None: it may): only pooled leads that are not resting."""
        if self.status != POOLED:
            return f"not_pooled ({self.status})"
        if self.rest_until and self.rest_until > now:
            return "resting (contact pressure)"
        return None

    def may_dial(self, agent_id: str, *, now: datetime, number_listed: bool) -> DialVerdict:
        """Whether `agent_id` may dial this lead now (see `dialing.dial_verdict`)."""
        return dial_verdict(status=self.status, holder=self.holder, rest_until=self.rest_until, agent_id=agent_id,
                            now=now, number_listed=number_listed)

    # ---- holding ---------------------------------------------------------------------------------------

    def require_held_by(self, agent_id: str) -> None:
        if self.status != HELD or self.holder != agent_id:
            raise DomainError("not_held", f"lead {self.lead_id} is not held by {agent_id} (it is {self.status}"
                                          + (f", held by {self.holder})" if self.holder else ")"))

    def same_hold(self, *, as_read: bool = False) -> SameHold:
        assert self.holder is not None, self.lead_id  # as_read: and the lead not changed since (its updated_at)
        return SameHold(self.holder, self.held_since, unchanged_since=self.updated_at if as_read else None)

    def _holder_fields(self, agent_id: str, at: datetime, agent: AgentFacts | None = None) -> dict[str, Any]:
        """The fields every holder-change event carries (the agent's team and grade: the new holder's, or
        those of the hold that ends)."""
        return {"lead_id": self.lead_id, "agent_id": agent_id, "team_id": agent.team_id if agent else self.holder_team,
                "agent_grade": agent.grade if agent else self.holder_grade, "business_line": self.business_line,
                "pool_id": self.pool_id, "score": self.score, "lead_grade": self.lead_grade, "at": at}

    def _release(self, agent_id: str, at: datetime, *, counts_as_drop: bool, entry: Entry, reclaimed: bool = False,
                 condition: SameHold | None = None) -> Release:
        dropped_by = self.dropped_by
        if counts_as_drop and agent_id not in dropped_by:
            dropped_by = (*dropped_by, agent_id)
        return Release(agent_id=agent_id, counts_as_drop=counts_as_drop, dropped_by=dropped_by, entry=entry, at=at,
                       reclaimed=reclaimed, condition=condition or self.same_hold(), team_id=self.holder_team)

    def give_back(self, agent_id: str, *, reason: str, at: datetime) -> Decision:
        """The agent returns the lead to its pool (退回): a drop."""
        self.require_held_by(agent_id)
        change = self._release(agent_id, at, counts_as_drop=True,
                               entry=history.holder_change("returned", agent_id, at, reason=reason))
        data = LeadReturned(**self._holder_fields(agent_id, at), reason=reason, drop_count=len(change.dropped_by))
        return Decision(change, (Announcement(ALLOCATION_RETURNED, data),))

    def leave_with_agent(self, *, reason: str, at: datetime) -> Decision:
        """Its agent left the floor: back to the pool, not counted as the agent's drop."""
        assert self.holder is not None, self.lead_id
        change = self._release(self.holder, at, counts_as_drop=False,
                               entry=history.holder_change("returned", self.holder, at, reason=reason))
        data = LeadReturned(**self._holder_fields(self.holder, at), reason=reason, drop_count=len(change.dropped_by))
        return Decision(change, (Announcement(ALLOCATION_RETURNED, data),))

    def close(self, agent_id: str, *, reason: str, at: datetime) -> Decision:
        """The agent closes the lead without a sale (关单); lead-intake learns it was lost."""
        self.require_held_by(agent_id)
        change = Close(agent_id=agent_id, reason=reason, at=at, condition=self.same_hold(),
                       entry=history.holder_change("closed", agent_id, at, reason=reason))
        closed = LeadClosed(**self._holder_fields(agent_id, at), reason=reason)
        outcome = LeadOutcome(lead_id=self.lead_id, outcome="lost", business_line=self.business_line,
                              external_refs=list(self.external_refs))  # type: ignore[arg-type]
        return Decision(change, (Announcement(ALLOCATION_CLOSED, closed), Announcement(LEADS_OUTCOME, outcome)))

    def win(self, agent_id: str, *, amount_fen: int, at: datetime) -> Decision:
        """The agent declares a win (成单): the agent is the person's dedicated agent; the sale counts toward
        nothing, and lead-intake learns no outcome, until an order or the supervisor confirms it; a lost order
        or the supervisor may reject it (domain/wins.py), which puts back what it changed (`declared_over`)."""
        self.require_held_by(agent_id)
        change = Win(agent_id=agent_id, amount_fen=amount_fen, team_id=self.holder_team, at=at,
                     condition=self.same_hold(),
                     entry=history.holder_change("won", agent_id, at, amount_fen=amount_fen),
                     declared_over={"dedicated_agent": self.dedicated_agent, "stage_percent": self.stage_percent,
                                    "funnel_step": self.funnel_step})
        won = LeadWon(**self._holder_fields(agent_id, at), amount_fen=amount_fen)
        return Decision(change, (Announcement(ALLOCATION_WON, won),))

    def assign(self, agent: AgentFacts, *, strategy: DistributionStrategy, assigned_by: str, at: datetime,
               from_statuses: Sequence[str] = (POOLED,), also: MarkHot | None = None,
               extra_events: Sequence[Announcement] = ()) -> Decision:
        """A push gives the lead to `agent` (分配), if it is still in one of `from_statuses` when written."""
        change = Assign(agent=agent, strategy=strategy, from_statuses=tuple(from_statuses), at=at, also=also,
                        entry=history.holder_change("assigned", agent.agent_id, at, via=strategy.value))
        data = LeadAssigned(**self._holder_fields(agent.agent_id, at, agent), strategy=strategy,
                            assigned_by=assigned_by)
        return Decision(change, (Announcement(ALLOCATION_ASSIGNED, data), *extra_events))

    # ---- the deal-in-progress mark: asked by the holder, decided by its supervisor, expires -------------

    def request_deal_mark(self, agent_id: str, *, supervisors: Sequence[str], note: str | None,
                          at: datetime) -> Decision:
        """The holder asks for the deal-in-progress mark. It protects nothing until the holder's supervisor
        approves it; one request at a time, and none while an approved mark is in force."""
        self.require_held_by(agent_id)
        mark = self.deal_mark or {}
        if mark.get("status") == DEAL_MARK_PENDING:
            raise DomainError("deal_mark_pending", f"lead {self.lead_id} already has a request waiting for the "
                                                   f"supervisor ({mark.get('request_id')})")
        in_force = deal_mark_in_force(mark, at)
        if in_force is not None:
            raise DomainError("deal_mark_in_force", f"lead {self.lead_id} is marked until {in_force.isoformat()}; "
                                                    "ask again after it expires")
        request_id = str(uuid.uuid4())
        new_mark = {"request_id": request_id, "status": DEAL_MARK_PENDING, "agent_id": agent_id,
                    "requested_at": at, "note": note}
        change = SetDealMark(mark=new_mark, previous_request=mark.get("request_id"), previous_status=None, at=at,
                             condition=self.same_hold(),
                             entry=history.deal_mark(status=DEAL_MARK_PENDING, agent_id=agent_id, at=at, reason=note))
        data = DealMarkRequested(lead_id=self.lead_id, request_id=request_id, agent_id=agent_id,
                                 team_id=self.holder_team, business_line=self.business_line,
                                 supervisors=sorted(set(supervisors) - {agent_id}), note=note, requested_at=at)
        return Decision(change, (Announcement(ALLOCATION_DEAL_MARK_REQUESTED, data),))

    def decide_deal_mark(self, request_id: str, *, decided_by: str, approve: bool, reason: str | None,
                         policy: AllocationPolicy, at: datetime) -> Decision:
        """The supervisor approves (for `deal_mark_days`) or refuses the waiting request; never the holder."""
        mark = self.deal_mark or {}
        if self.status != HELD or mark.get("status") != DEAL_MARK_PENDING or mark.get("request_id") != request_id:
            raise DomainError("no_pending_request", f"lead {self.lead_id} has no request {request_id!r} waiting")
        if decided_by == self.holder:
            raise DomainError("own_request", f"{decided_by} holds lead {self.lead_id}: its supervisor decides")
        status = DEAL_MARK_APPROVED if approve else DEAL_MARK_REFUSED
        expires_at = at + timedelta(days=policy.deal_mark_days) if approve else None
        new_mark = {**mark, "status": status, "decided_by": decided_by, "decided_at": at, "reason": reason,
                    "expires_at": expires_at}
        change = SetDealMark(mark=new_mark, previous_request=request_id, previous_status=DEAL_MARK_PENDING, at=at,
                             condition=self.same_hold(),
                             entry=history.deal_mark(status=status, agent_id=decided_by, at=at, reason=reason,
                                                     expires_at=expires_at))
        data = DealMarkDecided(lead_id=self.lead_id, request_id=request_id, agent_id=mark["agent_id"],
                               decision=status, decided_by=decided_by, reason=reason,  # type: ignore[arg-type]
                               expires_at=expires_at, decided_at=at)
        return Decision(change, (Announcement(ALLOCATION_DEAL_MARK_DECIDED, data),))

    # ---- the reclaim sweep -----------------------------------------------------------------------------

    def judge_overdue(self, schedule: ReclaimSchedule, *, at: datetime) -> Decision | None:
        """Reclaim (回收) a lead past its deadline, or warn its holder once per deadline; None: nothing yet.
        The events' ids are fixed by the hold and the deadline, so judging twice announces once."""
        agent_id = self.holder
        assert agent_id is not None, self.lead_id
        judged = self.same_hold(as_read=True)  # written only to the lead
        if schedule.reclaim_at <= at:  # as read: a call, a stage move or a deal mark since stops it
            change = self._release(agent_id, at, counts_as_drop=True, reclaimed=True, entry=history.holder_change(
                "reclaimed", agent_id, at, reclaim_kind=schedule.kind.value), condition=judged)
            data = LeadReclaimed(**self._holder_fields(agent_id, at), kind=schedule.kind,
                                 stage_percent=self.stage_percent, deadline=schedule.reclaim_at,
                                 drop_count=len(change.dropped_by))
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL,
                                      f"reclaim|{self.tenant_id}|{self.lead_id}|{self.held_since}"))
            return Decision(change, (Announcement(ALLOCATION_RECLAIMED, data, event_id),))
        warn_key = f"{schedule.kind.value}|{schedule.reclaim_at.isoformat()}"
        if schedule.warn_at <= at and self.warned_for != warn_key:
            warning = ReclaimWarning(lead_id=self.lead_id, agent_id=agent_id, kind=schedule.kind,
                                     reclaim_at=schedule.reclaim_at, stage_percent=self.stage_percent)
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"warn|{self.tenant_id}|{self.lead_id}|{warn_key}"))
            change = Warn(warn_key=warn_key, previous=self.warned_for, condition=judged)
            return Decision(change, (Announcement(ALLOCATION_RECLAIM_WARNING, warning, event_id),))
        return None

    # ---- activity ----------------------------------------------------------------------------------------

    def change_stage(self, change: LeadStageChanged, *, at: datetime) -> AdvanceStage:
        """A stage move; `change.agent_id`, when given, must hold the lead."""
        if change.agent_id is not None and self.holder != change.agent_id:
            raise DomainError("not_held", f"lead {self.lead_id} is not held by {change.agent_id}")
        return self.stage_move(change, at=at)

    @staticmethod
    def stage_move(change: LeadStageChanged, *, at: datetime) -> AdvanceStage:
        """A stage move as asked (judged against the lead when written; a backward funnel step is kept in
        the history, as said, but not applied)."""
        step = change.funnel_step.value if change.funnel_step else None
        entry = history.stage(stage_percent=change.stage_percent, agent_id=change.agent_id, at=at,
                              funnel_step=step, deal_in_progress=change.deal_in_progress)
        # Setting the mark is a request its supervisor decides (request_deal_mark); only withdrawing it applies.
        withdraw = False if change.deal_in_progress is False else None
        return AdvanceStage(percent=change.stage_percent, step=step, deal_in_progress=withdraw, entry=entry, at=at)

    def record_calls(self, calls: Sequence[CallLogged], policy: AllocationPolicy, *, at: datetime,
                     tz: tzinfo) -> RecordCalls:
        """Calls of this lead: last contact, contact pressure (a rest), the holder's first effective call
        (processed), the holder's dial days (and the dial streak once reached), a valid contact once one
        connected, and one history entry per call."""
        times = [c.started_at for c in calls]
        recent, rest_until = contact_pressure([*self.recent_calls, *times], at, policy)
        longer_rest = rest_until is not None and (self.rest_until is None or self.rest_until < rest_until)
        by_holder = [c for c in calls if self.status == HELD and c.agent_id == self.holder
                     and c.started_at >= self.held_since]
        holder_called = any(c.duration_seconds >= policy.effective_call_seconds for c in by_holder)
        since = max(self.held_since, self.progress_at) if by_holder and self.progress_at else self.held_since
        new_days = {c.started_at.astimezone(tz).date().isoformat() for c in by_holder if c.started_at >= since}
        dial_days = dial_days_after(self.dial_days, new_days) if new_days else None
        streak_at = None
        if (dial_days is not None and self.dial_streak_at is None and policy.dial_streak_days is not None
                and longest_dial_streak(dial_days) >= policy.dial_streak_days):
            streak_at = at
        entries = tuple(history.call(agent_id=c.agent_id, started_at=c.started_at,
                                     duration_seconds=c.duration_seconds, connected=c.connected) for c in calls)
        return RecordCalls(count=len(calls), recent_calls=tuple(recent),
                           last_call_at=max([*times, *([self.last_call_at] if self.last_call_at else [])]),
                           rest_until=rest_until if longer_rest else None, holder_called=holder_called,
                           valid_contact=any(c.connected for c in calls) and self.funnel_step is None,
                           entries=entries, at=at, dial_days=dial_days, dial_streak_at=streak_at)

    @staticmethod
    def hot(signal: LeadSignal, *, alerted: str | None, at: datetime) -> MarkHot:
        """A signal on the lead: its hot marker and history; `alerted`: the agent told, if any."""
        entry = history.signal(kind=signal.kind.value, detail=signal.detail, occurred_at=signal.occurred_at,
                               agent_id=alerted)
        return MarkHot(last_signal=signal_summary(signal), entry=entry, at=at)

    def alert(self, agent_id: str, signal: LeadSignal, *, signal_event_id: str, routed: str) -> Announcement:
        """Tell `agent_id` to call now (allocation.hot-lead.v1)."""
        data = HotLead(lead_id=self.lead_id, agent_id=agent_id, routed=routed,  # type: ignore[arg-type]
                       kind=signal.kind, detail=signal.detail, occurred_at=signal.occurred_at, signal_event_id=signal_event_id)
        return Announcement(ALLOCATION_HOT_LEAD, data)

    def alert_holder(self, signal: LeadSignal, *, signal_event_id: str, at: datetime) -> Decision:
        """A held lead's signal: marked hot, and its holder told at once."""
        assert self.holder is not None, self.lead_id
        return Decision(self.hot(signal, alerted=self.holder, at=at),
                        (self.alert(self.holder, signal, signal_event_id=signal_event_id, routed="holder"),))

    def complaint(self, reason: str, *, at: datetime) -> Decision:
        """A complaint ends the lead's calls: it leaves its agent (closed, the agent told) and every pool for
        good."""
        said = f"complaint: {reason}"[:500]
        change = StopCalls(reason=reason, last_holder=self.holder, at=at,
                           entry=history.holder_change("closed", self.holder, at, reason=said))
        return Decision(change, self._closed_under_holder(said, at))

    def number_listed(self, reason: str, *, listing_id: str, at: datetime) -> Decision | None:
        """Its number went on the do-not-call list: closed for good (stop_for_good)."""
        return self.stop_for_good(f"do-not-call: {reason}", kind="dnc", ref=listing_id, at=at)

    def stop_for_good(self, said: str, *, kind: str, ref: str, at: datetime) -> Decision | None:
        """No more calls (a listed number, withdrawn consent): pooled, held or closed, closed for good (holder told);
        None if already so, or won. The event id is fixed by `ref` and the hold: judging twice announces once."""
        if self.status not in (POOLED, HELD, CLOSED):
            return None
        said = said[:500]
        change = StopCalls(reason=said, last_holder=self.holder or self.last_holder, at=at,
                           still=(self.status, self.holder),
                           entry=history.holder_change("closed", self.holder, at, reason=said))
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{kind}|{self.tenant_id}|{self.lead_id}|{ref}"))
        return Decision(change, self._closed_under_holder(said, at, event_id))

    def _closed_under_holder(self, said: str, at: datetime, event_id: str | None = None) -> tuple[Announcement, ...]:
        if self.status != HELD:
            return ()
        assert self.holder is not None, self.lead_id
        closed = LeadClosed(**self._holder_fields(self.holder, at), reason=said, do_not_call=True)
        return (Announcement(ALLOCATION_CLOSED, closed, event_id),)

    def touched(self, external_refs: Sequence[Mapping[str, Any]], *, matched_on: str, at: datetime) -> Touch:
        """The person arrived again. The same outside record sent again (matched on its reference) is no
        new touch; a closed lead a person comes back to is live again, back in its pool."""
        new_touch = matched_on != "external_ref"
        reopen = new_touch and self.status == CLOSED
        return Touch(external_refs=tuple(external_refs), new_touch=new_touch, reopen=reopen, at=at,
                     entries=(history.reopened(at),) if reopen else ())
