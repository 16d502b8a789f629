"""The changes the intake's Lead (lead.py) decides, typed: each says what is written and on what condition, and a
`Decision` carries one with the event it causes and the answer the inbox keeps. store.py compiles them into its
writes (one transaction per batch). Pure data, no I/O."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from telesales_contracts import Topic
from telesales_runtime.masking import mask_phone, mask_phones

from .touches import Ref, ref_of

Answer = dict[str, Any]  # what the inbox keeps of an event's processing (GET /v1/submissions/{event_id})
Touch = dict[str, Any]  # a touch as stored on the lead (touches.touch_doc)
Outcome = Literal["qualified", "merged", "rejected", "outcome_recorded", "do_not_call"]


@dataclass(frozen=True, slots=True)
class Announcement:
    """An event a decision causes, written to the outbox with the change."""

    topic: Topic
    data: BaseModel | dict[str, Any]  # a dict: the topic's data built exactly (the hot path), not validated again
    subject: str
    key: str


@dataclass(slots=True)
class NewLead:
    """A lead stored for the first time: its fields as qualified, and its touches (later arrivals of the same batch
    fold into it rather than update it)."""

    lead_id: str
    fields: dict[str, Any]  # the lead's own fields, as leads.qualified.v1 tells them
    rule_score: int
    model_features: dict[str, str]
    touches: list[Touch]
    refs: list[Ref]
    received_at: datetime
    at: datetime
    touches_count: int = 1

    def fold(self, change: AppendTouch | ReplaceTouch) -> None:
        if change.consent is not None:
            self.fields["consent"] = change.consent
        if isinstance(change, AppendTouch):
            self.touches.append(change.touch)
            self.touches_count += 1
            if change.ref is not None and change.ref not in self.refs:
                self.refs.append(change.ref)
        else:
            self.touches = [change.touch if ref_of(t) == change.ref else t for t in self.touches]


@dataclass(frozen=True, slots=True)
class AppendTouch:
    """A repeat of a known person: the touch is added (the lead keeps its last 200), and `ref` with it, on the
    condition that the lead does not have that reference yet (another consumer may have given it meanwhile)."""

    lead_id: str
    touch: Touch
    ref: Ref | None
    consent: list[dict[str, Any]] | None = None  # the lead's consent after this arrival, when it changed
    consent_before: list[dict[str, Any]] | None = None  # written only if the lead's is still this (else replanned)


@dataclass(frozen=True, slots=True)
class ReplaceTouch:
    """The same outside record again: its touch is replaced, on the condition that the lead still has `ref`."""

    lead_id: str
    ref: Ref
    touch: Touch
    consent: list[dict[str, Any]] | None = None  # as AppendTouch's
    consent_before: list[dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """A won or lost outcome: recorded on the lead, and counted into its business line's model (`increments`,
    empty when the lead's outcome was learned already); `undo`: the previous outcome's counts taken back from the
    model of its business line, when the lead's outcome changed (a lead counts once, with its latest outcome)."""

    lead_id: str
    business_line: str
    increments: dict[str, int]
    outcome: dict[str, Any]  # as recorded on the lead (GET /v1/leads/{lead_id}, `outcome`)
    undo: tuple[str, dict[str, int]] | None = None


@dataclass(frozen=True, slots=True)
class Listing:
    """A number as the do-not-call list keeps it: its blind index (what look-ups match), its masked display and
    the reason, with any number in it masked. Never the number itself, sealed or not: the list is kept for
    ever, also for a person who was erased (their objection must still be honoured)."""

    phone_bidx: str
    phone_masked: str
    reason: str | None

    @classmethod
    def of(cls, phone: str, phone_bidx: str, reason: str | None) -> Listing:
        return cls(phone_bidx, mask_phone(phone) or "", mask_phones(reason)[:1000] if reason else None)


@dataclass(frozen=True, slots=True)
class PutOnDoNotCall:
    """The number goes on the tenant's do-not-call list (already there: it keeps `added_at`, takes the reason)."""

    listing: Listing


Change = NewLead | AppendTouch | ReplaceTouch | RecordOutcome | PutOnDoNotCall


@dataclass(frozen=True, slots=True)
class Decision:
    """What one event comes to: the change (None: nothing stored but the answer), the event it causes, the answer."""

    event_id: str
    outcome: Outcome
    answer: Answer
    change: Change | None = None
    announcement: Announcement | None = None
    more: tuple[Announcement, ...] = ()  # further events it causes (a merge that changed the lead's consent)


@dataclass
class Batch:
    """What one batch of one tenant's arrivals will write, in one transaction."""

    new_leads: dict[str, NewLead] = field(default_factory=dict)  # by lead id, in insertion order
    appends: list[AppendTouch] = field(default_factory=list)  # to leads stored before
    replacements: list[ReplaceTouch] = field(default_factory=list)  # of leads stored before
    answers: list[tuple[str, Answer]] = field(default_factory=list)  # event id, answer
    announcements: list[Announcement] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def add(self, decision: Decision) -> None:
        change = decision.change
        if isinstance(change, NewLead):
            self.new_leads[change.lead_id] = change
        elif isinstance(change, AppendTouch | ReplaceTouch):
            new_lead = self.new_leads.get(change.lead_id)
            if new_lead is not None:  # the lead is new in this same batch: written once, with this in it
                new_lead.fold(change)
            elif isinstance(change, AppendTouch):
                self.appends.append(change)
            else:
                self.replacements.append(change)
        if decision.announcement is not None:
            self.announcements.append(decision.announcement)
        self.announcements.extend(decision.more)
        self.answers.append((decision.event_id, decision.answer))
        self.outcomes[decision.outcome] += 1
