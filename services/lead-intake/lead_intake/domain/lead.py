"""The intake's Lead: what can happen to a lead in lead-intake, as rules. Pure (no I/O).

An arrival (a leads.received.v1 event, standardized) is dropped as junk (`reject`: a test number, on the
do-not-call list, no way to reach the person, ...), or it is the same outside record again (`same_record_again`:
its touch is replaced), a repeat of a known person (`repeat`: a touch is added), or a new lead (`qualify`, with
its score). A stored lead then learns its outcome (`record_outcome`: counted into its business line's model,
which scores later leads), and a complaint puts its number on the do-not-call list (`complaint`). Each returns
a `Decision` (changes.py): the typed change, the event it causes and the inbox's answer. Which lead an arrival
meets is found in received.py (by outside reference, then phone, then email)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from telesales_contracts.activity import DoNotCallChanged, DoNotCallSource, LeadComplaint
from telesales_contracts.consent import LeadConsentChanged
from telesales_contracts.leads import MAX_EXTERNAL_REFS, LeadMerged, LeadOutcome, LeadRejected, Rejection
from telesales_contracts.topics import (
    LEADS_CONSENT_CHANGED,
    LEADS_DO_NOT_CALL,
    LEADS_MERGED,
    LEADS_QUALIFIED,
    LEADS_REJECTED,
)

from .changes import (
    Announcement,
    AppendTouch,
    Decision,
    Listing,
    NewLead,
    PutOnDoNotCall,
    RecordOutcome,
    ReplaceTouch,
)
from .cleaning import CleanLead, NumberCheckResult, standardize_phone
from .consent import ConsentChange, ScopeRecord, Statement, merge
from .scoring import OutcomeCounts, Score
from .touches import Ref, ref_of, touch_doc, with_ref


@dataclass(slots=True)
class Arrival:
    """One fresh leads.received.v1 event, standardized, with its touch (its wire form, touches.touch)."""

    event_id: str
    received_at: datetime
    clean: CleanLead
    touch: dict[str, Any]
    statement: Statement = field(default_factory=Statement)  # what its consent states (domain/consent.py)

    @property
    def consent(self) -> list[ScopeRecord]:
        """The consent a new lead from this arrival has."""
        return merge([], self.statement.records).consent

    def answer(self, answer: dict[str, Any], change: ConsentChange | None = None) -> dict[str, Any]:
        """The inbox's answer, saying what became of the arrival's consent when it is not plain."""
        if self.statement.disbelieved:
            return {**answer, "consent": self.statement.disbelieved}
        if change is not None and change.changed:
            return {**answer, "consent": f"granted: {', '.join(change.granted) or '-'}; withdrawn: "
                                         f"{', '.join(change.withdrawn) or '-'}"}
        return answer

    @property
    def ref(self) -> Ref | None:
        return ref_of(self.touch)

    @property
    def stored_touch(self) -> dict[str, Any]:
        return touch_doc(self.touch, self.clean.extra)


def reject(item: Arrival, reasons: list[Rejection]) -> Decision:
    """Junk (cleaning.junk_reasons): neither stored nor merged; leads.rejected.v1 says why."""
    clean = item.clean
    data = LeadRejected(reasons=reasons, phone_raw=clean.phone.raw if clean.phone else None,
                        phone_e164=clean.phone.e164 if clean.phone else None, email=clean.email,
                        channel=clean.channel, business_line=clean.business_line, touch=item.touch)
    return Decision(item.event_id, "rejected",
                    # whose arrival it was (the store keeps only blind indexes of them: an erasure finds it)
                    item.answer({"status": "rejected", "reasons": [r.model_dump(mode="json") for r in reasons],
                                 "person": {"phone_e164": data.phone_e164, "email": data.email}}),
                    # keyed by the arrival's event id, never the number (a key is not encrypted anywhere)
                    announcement=Announcement(LEADS_REJECTED, data, item.event_id, item.event_id))


@dataclass(slots=True)
class IntakeLead:
    """A lead as lead-intake's rules see it: stored before, or new in the batch being planned."""

    lead_id: str
    touches_count: int = 1
    refs: list[Ref] = field(default_factory=list)
    phone_e164: str | None = None
    email: str | None = None
    business_line: str = "default"
    model_features: dict[str, str] = field(default_factory=dict)
    outcome: dict[str, Any] | None = None  # the outcome recorded on the lead, if any
    consent: list[ScopeRecord] = field(default_factory=list)  # the latest statement per scope

    @classmethod
    def qualify(cls, item: Arrival, *, lead_id: str, score: Score, check: NumberCheckResult | None,
                at: datetime) -> tuple[IntakeLead, Decision]:
        """A new lead: stored with its score, and announced on leads.qualified.v1 (its data built as plain data
        matching LeadQualified: every new lead passes here, the tests parse every emitted event)."""
        clean = item.clean
        refs = with_ref([], item.ref)
        data = _qualified_data(clean, lead_id=lead_id, score=score, check=check, touch=item.touch, refs=refs)
        data["consent"] = consent = item.consent
        fields = {key: value for key, value in data.items() if key not in ("lead_id", "touch", "extra", "external_refs")}
        new_lead = NewLead(lead_id, fields, score.rule_score, score.features, [item.stored_touch], list(refs),
                           received_at=item.received_at, at=at)
        lead = cls(lead_id, 1, refs, clean.dedup_phone, clean.dedup_email, clean.business_line, score.features,
                   consent=consent)
        return lead, Decision(item.event_id, "qualified", item.answer({"status": "qualified", "lead_id": lead_id}),
                              change=new_lead, announcement=Announcement(LEADS_QUALIFIED, data, lead_id, lead_id))

    def repeat(self, item: Arrival, matched_on: Literal["phone", "email"]) -> Decision:
        """A repeat of this person: its touch is added, and its outside reference if new and the lead has fewer
        than MAX_EXTERNAL_REFS (beyond, the touch alone records it)."""
        ref = item.ref if len(self.refs) < MAX_EXTERNAL_REFS else None
        self.touches_count += 1
        self.refs = with_ref(self.refs, ref)
        consent = self._consent_after(item)
        return self._merged(item, matched_on, consent, AppendTouch(self.lead_id, item.stored_touch, ref,
                                                                   *self._consent_write(consent)))

    def same_record_again(self, item: Arrival, ref: Ref) -> Decision:
        """The same outside record again (same system, same id): its touch is replaced, none is added, the lead's
        own fields stay as they were but its consent, which takes the arrival's statement."""
        consent = self._consent_after(item)
        return self._merged(item, "external_ref", consent,
                            ReplaceTouch(self.lead_id, ref, item.stored_touch, *self._consent_write(consent)))

    def _consent_after(self, item: Arrival) -> ConsentChange:
        return merge(self.consent, item.statement.records)

    def _consent_write(self, change: ConsentChange) -> tuple[list[ScopeRecord] | None, list[ScopeRecord] | None]:
        """(the consent to write, the consent the lead must still have), or (None, None) when unchanged."""
        if not change.changed:
            return None, None
        before, self.consent = self.consent, change.consent
        return change.consent, before

    def _merged(self, item: Arrival, matched_on: str, consent: ConsentChange,
                change: AppendTouch | ReplaceTouch) -> Decision:
        data = LeadMerged(lead_id=self.lead_id, matched_on=matched_on, touch=item.touch,  # type: ignore[arg-type]
                          touches=self.touches_count, external_refs=self.refs, extra=item.clean.extra)
        more = ()
        if consent.changed:  # the allocator keeps the lead's consent, and closes it when telemarketing is withdrawn
            told = LeadConsentChanged(lead_id=self.lead_id, consent=consent.consent, granted=consent.granted,
                                      withdrawn=consent.withdrawn, changed_at=item.received_at)
            more = (Announcement(LEADS_CONSENT_CHANGED, told, self.lead_id, self.lead_id),)
        answer = item.answer({"status": "merged", "lead_id": self.lead_id, "matched_on": matched_on}, consent)
        return Decision(item.event_id, "merged", answer, change=change,
                        announcement=Announcement(LEADS_MERGED, data, self.lead_id, self.lead_id), more=more)

    def record_outcome(self, outcome: LeadOutcome, *, event_id: str, decided_at: datetime, source: str,
                       ref: Ref | None) -> Decision:
        """Won or lost: recorded on the lead (with the outside reference it was named by, and the fields the contract
        does not name) and counted into the model of its business line (the outcome's, else the lead's).

        A lead counts once in the models, with its latest outcome: several systems may say it (the allocator when a
        supervisor confirms a win, the CRM's own order), and a sale may be lost after all. The same outcome again
        is recorded but learned nothing more; a changed one takes the previous one's counts back (`counted`: the
        line and features it was counted with)."""
        line = outcome.business_line or self.business_line
        before = self.outcome or {}
        counted = before.get("counted") or ({"outcome": before["outcome"], "business_line": self.business_line,
                                             "features": self.model_features} if before.get("outcome") else None)
        same = counted is not None and counted["outcome"] == outcome.outcome
        record = {"outcome": outcome.outcome, "amount_fen": outcome.amount_fen, "event_id": event_id,
                  "decided_at": decided_at, "source": source,
                  **(ref or {}), **({"extra": outcome.model_extra} if outcome.model_extra else {}),
                  "counted": counted if same else {"outcome": outcome.outcome, "business_line": line,
                                                   "features": self.model_features}}
        undo = None
        if counted is not None and not same:
            taken_back = OutcomeCounts.increments(counted["features"], counted["outcome"])
            undo = (counted["business_line"], {name: -n for name, n in taken_back.items()})
        increments = {} if same else OutcomeCounts.increments(self.model_features, outcome.outcome)
        change = RecordOutcome(self.lead_id, line, increments, record, undo)
        learned = "already" if same else ("changed" if undo else "new")
        return Decision(event_id, "outcome_recorded", {"status": "outcome_recorded", "lead_id": self.lead_id,
                                                       **(ref or {}), "learned": learned}, change=change)


def complaint(item: LeadComplaint, *, tenant: str, event_id: str, lead_phone: str | None, default_region: str,
              index: Callable[[str], str], at: datetime) -> Decision:
    """A complaint puts a number on the do-not-call list: the one it names (written as the numbering plan writes it,
    so it matches the standardized numbers of leads), else its lead's (`lead_phone`). Later leads with it are
    rejected as `do_not_call`; leads.do-not-call.v1 tells the allocator to close the leads it has with it.
    `index`: the number's blind index (the list and the topic name the number by it). The inbox's answer
    shows the number masked: the answer is kept, and the person may later be erased."""
    phone = lead_phone
    if item.phone_e164 is not None:
        parsed = standardize_phone(item.phone_e164, default_region)
        phone = parsed.e164 if parsed is not None and parsed.e164 else item.phone_e164
    if phone is None:
        raise ValueError("a complaint naming no number needs its lead's")
    reason = f"complaint: {item.reason}"
    listing = Listing.of(phone, index(phone), reason)
    return Decision(event_id, "do_not_call", {"status": "do_not_call", "lead_id": item.lead_id,
                                              "phone_masked": listing.phone_masked},
                    change=PutOnDoNotCall(listing),
                    announcement=do_not_call_changed(tenant, listing, listed=True, source=DoNotCallSource.COMPLAINT,
                                                     lead_id=item.lead_id, at=at))


def do_not_call_changed(tenant: str, listing: Listing, *, listed: bool, source: DoNotCallSource,
                        lead_id: str | None = None, at: datetime) -> Announcement:
    """leads.do-not-call.v1: the number went on (or came off) the list. Keyed by tenant and the number's blind
    index, so the changes of one number stay in order, and the compacted topic keeps each tenant's last word on
    each number (the list can be read whole from the topic, however old) without ever holding the number: the
    event names it by blind index and shows it masked, its reason with any number in it masked too."""
    data = DoNotCallChanged(phone_bidx=listing.phone_bidx, phone_masked=listing.phone_masked, listed=listed,
                            source=source, reason=listing.reason if listed else None, lead_id=lead_id,
                            changed_at=at)
    return Announcement(LEADS_DO_NOT_CALL, data, subject=listing.phone_bidx,
                        key=do_not_call_key(tenant, listing.phone_bidx))


def do_not_call_key(tenant: str, phone_bidx: str) -> str:
    """The record key of a number's changes on leads.do-not-call.v1."""
    return f"{tenant}/{phone_bidx}"


def _qualified_data(clean: CleanLead, *, lead_id: str, score: Score, check: NumberCheckResult | None,
                    touch: dict[str, Any], refs: list[Ref]) -> dict[str, Any]:
    phone = clean.phone
    return {
        "lead_id": lead_id,
        "phone_e164": clean.dedup_phone,
        "email": clean.dedup_email,
        "name": clean.name,
        "company": clean.company,
        "channel": clean.channel.value,
        "channel_raw": clean.channel_raw,
        "business_line": clean.business_line,
        "product_interest": clean.product_interest,
        "region": clean.region,
        "carrier": phone.carrier if phone else None,
        "number_type": phone.number_type.value if phone else None,
        "number_check": {"checker": check.checker, "status": check.status, "detail": check.detail}
        if check else None,
        "score": score.score,
        "grade": score.grade,
        "score_breakdown": score.breakdown,
        "model": score.model.model_dump() if score.model else None,
        "touch": touch,
        "notes": clean.notes,
        "attributes": dict(clean.attributes),
        "external_refs": refs,
        "extra": dict(clean.extra),
    }
