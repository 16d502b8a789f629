"""The registry of every topic on the platform: name, CloudEvents type and data schema.

Names follow `<domain>.<event>.v<N>`; a breaking change of a data schema means a new topic `vN+1`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, create_model, model_validator
from pydantic_core import to_json

from . import tolerant
from .activity import CallLogged, DoNotCallChanged, LeadComplaint, LeadSignal, LeadStageChanged
from .allocation import (
    DealMarkDecided,
    DealMarkRequested,
    HotLead,
    LeadAssigned,
    LeadClaimed,
    LeadClosed,
    LeadReclaimed,
    LeadReturned,
    LeadWon,
    ReclaimWarning,
    WinConfirmed,
    WinRejected,
)
from .consent import LeadConsentChanged
from .envelope import CloudEvent, event_type_for, new_event_id, spells_event_type_of
from .fast_reading import FastDecoder, Unsupported, decoder_of
from .leads import LeadMerged, LeadOutcome, LeadQualified, LeadReceived, LeadRejected
from .ledger import (
    BonusAwarded,
    CoinsAllocated,
    CoinsReclaimed,
    CoinsRedeemed,
    ReallocationAwaiting,
    ReallocationDecided,
    TransferPosted,
    TransferRecorded,
    TransferRejected,
    TransferRequested,
)
from .marketplace import (
    DeepLearnerFlagged,
    LearnProgressed,
    PurchaseCompleted,
    PurchaseRefused,
    PurchaseRequested,
    StruggleRecommended,
    TipDelisted,
    TipForwarded,
    TipListed,
    TipRated,
    TipReviewed,
    TipSubmitted,
    TipVisited,
    UserDailyActive,
)
from .platform import DeadLetter, UnmaskBudgetExceeded
from .privacy import ErasureCompleted, ErasureRequested
from .retention import Retention, retention_of
from .roster import AgentChanged, AgentGraded, AgentStatusChanged
from .tolerant import Vocabulary

# The envelope attributes a consumer reads (with their own types and constraints); `subject` and the rest are
# not checked by a reading. The attributes CloudEvents requires are always read (and so required).
REQUIRED_ENVELOPE_FIELDS = ("specversion", "id", "source", "type")
READ_ENVELOPE_FIELDS = (*REQUIRED_ENVELOPE_FIELDS, "time", "tenantid")


@dataclass(frozen=True)
class Topic:
    name: str
    data_model: type[BaseModel]
    description: str
    # A compacted topic keeps the last event of each key for ever (a list or a state whose whole must stay
    # readable from the topic), where the others delete events past their retention.
    compacted: bool = False

    @property
    def retention(self) -> Retention:
        """How long the broker keeps its events, whether they carry personal data and why (retention.py)."""
        return retention_of(self.name)

    @property
    def broker_config(self) -> dict[str, str]:
        """What the broker must be told when it creates this topic (besides partitions and replicas)."""
        ms = self.retention.ms
        if self.compacted:  # a record superseded (or deleted by a tombstone) is gone within a day, not a segment
            return {"cleanup.policy": "compact", "max.compaction.lag.ms": str(COMPACTION_LAG_MS)}
        return {"retention.ms": str(ms)}

    @cached_property
    def event_type(self) -> str:
        return event_type_for(self.name)

    @cached_property
    def event_model(self) -> type[CloudEvent[Any]]:
        return CloudEvent[self.data_model]  # type: ignore[name-defined]

    def accepts_type(self, value: str) -> bool:
        """Whether `value` is the type of this topic's events, in any spelling envelope.spells_event_type_of
        allows (the topic is the contract: telesales.leads.received.v1, leads.received.v1, LeadsReceived, ...)."""
        return value == self.event_type or spells_event_type_of(value, self.name)

    def check_type(self, value: str) -> None:
        """Raises WrongEventType, naming both types, unless `value` is a spelling of this topic's type."""
        if not self.accepts_type(value):
            raise WrongEventType(f"type {value!r} is another kind of event than topic {self.name} carries: "
                                 f"{self.event_type!r} (or another spelling of it, e.g. {self.name!r})")

    def parse(self, raw: bytes | str) -> CloudEvent[Any]:
        """Validate a structured-mode CloudEvent of this topic (raises pydantic.ValidationError, or
        WrongEventType). The event keeps the type as it was spelled."""
        event = self.event_model.model_validate_json(raw)
        self.check_type(event.type)
        return event

    def encode_trusted(self, data: dict[str, Any], *, source: str, tenantid: str, subject: str | None = None
                       ) -> tuple[str, bytes]:
        """(event id, JSON bytes) of an event whose `data` the caller built to match `data_model`
        exactly, without validating it again. For the hot paths of services, whose tests parse every
        event they emit with `parse()`, so a mismatch fails there."""
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": new_event_id(),
            "source": source,
            "type": self.event_type,
            "time": datetime.now(UTC),
            "datacontenttype": "application/json",
            "tenantid": tenantid,
            "data": data,
        }
        if subject is not None:
            envelope["subject"] = subject
        return envelope["id"], to_json(envelope)

    def event(self, data: BaseModel, *, source: str, tenantid: str, **attributes: Any) -> CloudEvent[Any]:
        """Build an event of this topic around `data`, with a fresh id unless `attributes` name one."""
        if not isinstance(data, self.data_model):
            raise TypeError(f"{self.name} carries {self.data_model.__name__}, not {type(data).__name__}")
        attributes.setdefault("id", new_event_id())
        return self.event_model(specversion="1.0", type=self.event_type, source=source, tenantid=tenantid,
                                data=data, **attributes)

    def reading(self, fields: frozenset[str], envelope: frozenset[str] = frozenset(READ_ENVELOPE_FIELDS)) -> TopicReading:
        """This topic as a consumer that reads only `fields` of its data (and `envelope` of the envelope's
        attributes: by default specversion, id, source, type, time, tenantid; the attributes CloudEvents
        requires are always read, so an event without one is refused) parses it (see TopicReading)."""
        unknown = envelope - set(CloudEvent.model_fields)
        if unknown or "tenantid" not in envelope:
            raise ValueError(f"a reading's envelope has tenantid and only CloudEvent attributes, not {sorted(envelope)}")
        envelope = envelope | frozenset(REQUIRED_ENVELOPE_FIELDS)
        return TopicReading(self, frozenset(fields), frozenset(envelope))


def _projection(model: type[BaseModel], fields: frozenset[str], name: str, *, names: Vocabulary | None = None,
                **extra: Any) -> type[BaseModel]:
    """The model with only `fields`; with `names`, reading them in other spellings as the contract does."""
    unknown = fields - set(model.model_fields)
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    kept = {field: (info.annotation, info) for field, info in model.model_fields.items() if field in fields}
    validators = {}
    if names is not None:
        def rename(cls: type[BaseModel], data: Any) -> Any:
            return tolerant.read(data, names, whole=False)
        validators["_read_names"] = model_validator(mode="before")(classmethod(rename))  # type: ignore[arg-type]
    return create_model(name, __config__=ConfigDict(extra="ignore", frozen=True), __validators__=validators,  # type: ignore[call-overload]
                        **kept, **extra)


@dataclass(frozen=True)
class TopicReading:
    """What a consumer reads of a topic's events: the envelope's required attributes, time and tenant, and the named
    fields of the data, each validated by its own contract type and constraints; the other fields are not
    validated, and not there. Parsing only what is read costs a fraction of the whole contract (a
    high-volume reader such as metrics spends most of its time parsing otherwise). The data model is
    derived from the contract, so a reading never drifts from it."""

    topic: Topic
    fields: frozenset[str]
    envelope: frozenset[str] = frozenset(READ_ENVELOPE_FIELDS)

    @property
    def name(self) -> str:
        return self.topic.name

    @cached_property
    def event_type(self) -> str:
        return self.topic.event_type

    def _model(self, names: Vocabulary | None) -> type[BaseModel]:
        model = self.topic.data_model
        data = _projection(model, self.fields, f"{model.__name__}Read", names=names)
        return _projection(CloudEvent[model], self.envelope,  # type: ignore[name-defined]
                           f"{model.__name__}EventRead", data=(data, ...))

    @cached_property
    def event_model(self) -> type[BaseModel]:
        """The reading's pydantic model: the fields read, their names read as the contract reads them (a data
        model read tolerantly takes a field in another spelling, see tolerant.py)."""
        return self._model(tolerant.vocabulary_of(self.topic.data_model))

    @cached_property
    def fast_decoder(self) -> FastDecoder | None:
        """The msgspec decoder of the reading (fast_reading.py), None when its model has a constraint the fast
        path cannot check exactly. It reads the exact names only: what it does not find goes to the model."""
        try:
            return decoder_of(self._model(None))
        except Unsupported:
            return None

    def parse_fast(self, raw: bytes | str) -> Any | None:
        """The event as the fast decoder reads it; None when there is none or it refuses the payload (then
        `parse` asks the contract)."""
        decoder = self.fast_decoder
        if decoder is None:
            return None
        try:
            event = decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError):
            return None
        return event if self.topic.accepts_type(event.type) else None

    def parse(self, raw: bytes | str) -> Any:
        """The envelope and the fields read of a structured-mode CloudEvent of this topic (raises
        pydantic.ValidationError, or WrongEventType). Decoded by the fast decoder; what it refuses is decided
        by the pydantic model (the contract), whose value or error stands."""
        event = self.parse_fast(raw)
        if event is not None:
            return event
        event = self.event_model.model_validate_json(raw)
        self.topic.check_type(event.type)  # type: ignore[attr-defined]
        return event


# How long a compacted topic may keep a record its key's later record (or tombstone) superseded: without it the
# broker compacts only closed segments (segment.ms: a week by default), so a replaced value would stay that long.
COMPACTION_LAG_MS = 24 * 3600 * 1000


class WrongEventType(ValueError):
    """A well-formed CloudEvent published on a topic that carries another type."""


LEADS_RECEIVED = Topic("leads.received.v1", LeadReceived,
                       "Raw leads from any outside system. Key: the source's own reference of the lead (else the event "
                       "id), never a personal value such as the phone number.")
LEADS_QUALIFIED = Topic("leads.qualified.v1", LeadQualified, "Cleaned, enriched and scored leads.")
LEADS_MERGED = Topic("leads.merged.v1", LeadMerged, "A repeat lead merged into an existing one.")
LEADS_REJECTED = Topic("leads.rejected.v1", LeadRejected, "Junk leads with reason codes.")
LEADS_OUTCOME = Topic("leads.outcome.v1", LeadOutcome, "Won or lost leads, training the scoring model.")
LEADS_STAGE_CHANGED = Topic("leads.stage-changed.v1", LeadStageChanged,
                            "A lead's development stage or funnel step changed (agent or CRM).")
LEADS_COMPLAINT = Topic("leads.complaint.v1", LeadComplaint,
                        "A customer complained: calls end, the number goes on do-not-call.")
LEADS_DO_NOT_CALL = Topic("leads.do-not-call.v1", DoNotCallChanged,
                          "A number went on (or came off) the tenant's do-not-call list (keyed by tenant/the number's "
                          "blind index, never the number; compacted, so the last word on every number stays).",
                          compacted=True)
LEADS_CONSENT_CHANGED = Topic("leads.consent-changed.v1", LeadConsentChanged,
                              "A known lead's consent changed: a later arrival granted or withdrew a scope.")
LEADS_SIGNAL = Topic("leads.signal.v1", LeadSignal,
                     "Moments that matter on the customer's side (unpaid order, long browsing, ...).")
CALLS_LOGGED = Topic("calls.logged.v1", CallLogged, "Calls placed or received by the dialer.")
AGENTS_CHANGED = Topic("agents.changed.v1", AgentChanged, "Agents, supervisors and managers from the HR system.")
AGENTS_STATUS_CHANGED = Topic("agents.status-changed.v1", AgentStatusChanged,
                              "Agent logged in, on break or logged out (from the dialer).")
AGENTS_GRADED = Topic("agents.graded.v1", AgentGraded, "Weekly A-E grades of agents from their sales results.")
ALLOCATION_ASSIGNED = Topic("allocation.assigned.v1", LeadAssigned, "A lead was pushed to an agent (分配).")
ALLOCATION_CLAIMED = Topic("allocation.claimed.v1", LeadClaimed, "An agent claimed a lead from a pool (捞取).")
ALLOCATION_RETURNED = Topic("allocation.returned.v1", LeadReturned, "An agent returned a lead (退回).")
ALLOCATION_RECLAIMED = Topic("allocation.reclaimed.v1", LeadReclaimed, "A lead was reclaimed from its agent (回收).")
ALLOCATION_CLOSED = Topic("allocation.closed.v1", LeadClosed, "A lead was closed without a sale (关单).")
ALLOCATION_WON = Topic("allocation.won.v1", LeadWon, "A lead was won (成单).")
ALLOCATION_RECLAIM_WARNING = Topic("allocation.reclaim-warning.v1", ReclaimWarning,
                                   "A lead will be reclaimed soon unless its agent works it.")
ALLOCATION_HOT_LEAD = Topic("allocation.hot-lead.v1", HotLead, "Call this lead now: a moment that matters happened.")
ALLOCATION_DEAL_MARK_REQUESTED = Topic("allocation.deal-mark-requested.v1", DealMarkRequested,
                                       "An agent asks its supervisor to mark a held lead deal-in-progress.")
ALLOCATION_DEAL_MARK_DECIDED = Topic("allocation.deal-mark-decided.v1", DealMarkDecided,
                                     "A supervisor approved (until when) or refused a deal-in-progress mark.")
ALLOCATION_WIN_CONFIRMED = Topic("allocation.win-confirmed.v1", WinConfirmed,
                                 "An agent's win was confirmed by an order (CRM, payment) or its supervisor.")
ALLOCATION_WIN_REJECTED = Topic("allocation.win-rejected.v1", WinRejected,
                                "An agent's unconfirmed win was rejected (a lost order, or its supervisor): "
                                "the lead is held again.")
LEDGER_TRANSFER_REQUESTED = Topic("ledger.transfer-requested.v1", TransferRequested,
                                  "The marketplace asks the ledger to pay for a tip (keyed by buyer).")
LEDGER_TRANSFER_POSTED = Topic("ledger.transfer-posted.v1", TransferPosted,
                               "A purchase was paid: buyer's coins to the seller, less the platform's share.")
LEDGER_TRANSFER_REJECTED = Topic("ledger.transfer-rejected.v1", TransferRejected,
                                 "A purchase was refused, with the reason and the daily limit reached.")
LEDGER_COINS_ALLOCATED = Topic("ledger.coins-allocated.v1", CoinsAllocated,
                               "Operators granted coins from the budget to a user (配置).")
LEDGER_COINS_RECLAIMED = Topic("ledger.coins-reclaimed.v1", CoinsReclaimed,
                               "Coins of an idle wallet went back to the budget (回收).")
LEDGER_COINS_REDEEMED = Topic("ledger.coins-redeemed.v1", CoinsRedeemed,
                              "A seller converted earnings in the points mall (100 coins = 1 yuan).")
LEDGER_BONUS_AWARDED = Topic("ledger.bonus-awarded.v1", BonusAwarded,
                             "A blind-box draw from the bonus pool, with the seed to replay it.")
LEDGER_TRANSFER_RECORDED = Topic("ledger.transfer-recorded.v1", TransferRecorded,
                                 "A transfer made over the ledger's HTTP API, or a hold posted, released or voided.")
LEDGER_REALLOCATION_DECIDED = Topic("ledger.reallocation-decided.v1", ReallocationDecided,
                                    "A request to get coins again after a reclaim was approved or rejected.")
LEDGER_REALLOCATION_AWAITING = Topic("ledger.reallocation-awaiting.v1", ReallocationAwaiting,
                                     "A request to get coins again waits for an approval at a level (层层审批).")
MARKETPLACE_TIP_SUBMITTED = Topic("marketplace.tip-submitted.v1", TipSubmitted,
                                  "An author submitted a version of a tip (锦囊) for review.")
MARKETPLACE_TIP_REVIEWED = Topic("marketplace.tip-reviewed.v1", TipReviewed,
                                 "A version of a tip was approved or rejected against the review checklist.")
MARKETPLACE_TIP_LISTED = Topic("marketplace.tip-listed.v1", TipListed, "A version of a tip is now for sale.")
MARKETPLACE_TIP_DELISTED = Topic("marketplace.tip-delisted.v1", TipDelisted, "A tip was taken off sale.")
MARKETPLACE_PURCHASE_REQUESTED = Topic("marketplace.purchase-requested.v1", PurchaseRequested,
                                       "A buyer asked to buy a tip; the ledger was asked to pay.")
MARKETPLACE_PURCHASE_COMPLETED = Topic("marketplace.purchase-completed.v1", PurchaseCompleted,
                                       "The ledger paid for a tip: the buyer has access.")
MARKETPLACE_PURCHASE_REFUSED = Topic("marketplace.purchase-refused.v1", PurchaseRefused,
                                     "The ledger refused to pay for a tip, with its reason.")
MARKETPLACE_TIP_VISITED = Topic("marketplace.tip-visited.v1", TipVisited, "A user opened a tip's page.")
MARKETPLACE_LEARN_PROGRESSED = Topic("marketplace.learn-progressed.v1", LearnProgressed,
                                     "A buyer's progress and watch time on a tip.")
MARKETPLACE_TIP_RATED = Topic("marketplace.tip-rated.v1", TipRated, "A buyer rated a version of a tip (1-5).")
MARKETPLACE_TIP_FORWARDED = Topic("marketplace.tip-forwarded.v1", TipForwarded,
                                  "A user forwarded a tip to a colleague.")
MARKETPLACE_DAILY_ACTIVE = Topic("marketplace.daily-active.v1", UserDailyActive,
                                 "A user's first marketplace activity of the day.")
MARKETPLACE_DEEP_LEARNER_FLAGGED = Topic("marketplace.deep-learner-flagged.v1", DeepLearnerFlagged,
                                         "A user learned enough tips for long enough to count as a deep learner.")
MARKETPLACE_STRUGGLE_RECOMMENDED = Topic("marketplace.struggle-recommended.v1", StruggleRecommended,
                                         "Tips of the call stage where an agent's funnel lags its team most.")
DEAD_LETTERS = Topic("platform.dead-lettered.v1", DeadLetter, "Messages a consumer could not process.")
SECURITY_UNMASK_BUDGET_EXCEEDED = Topic("security.unmask-budget-exceeded.v1", UnmaskBudgetExceeded,
                                        "A user went past the hourly budget of full numbers (once per user and hour).")
PRIVACY_ERASURE_REQUESTED = Topic("privacy.erasure-requested.v1", ErasureRequested,
                                  "Erase the personal data of these leads everywhere (lead ids only; keyed by "
                                  "request).")
PRIVACY_ERASURE_COMPLETED = Topic("privacy.erasure-completed.v1", ErasureCompleted,
                                  "A service erased its copies of an erasure request's leads, with its counts.")

HOLDER_CHANGE_TOPICS: tuple[Topic, ...] = (
    ALLOCATION_ASSIGNED,
    ALLOCATION_CLAIMED,
    ALLOCATION_RETURNED,
    ALLOCATION_RECLAIMED,
    ALLOCATION_CLOSED,
    ALLOCATION_WON,
)

ALL_TOPICS: tuple[Topic, ...] = (
    LEADS_RECEIVED, LEADS_QUALIFIED, LEADS_MERGED, LEADS_REJECTED, LEADS_OUTCOME, LEADS_STAGE_CHANGED,
    LEADS_COMPLAINT, LEADS_DO_NOT_CALL, LEADS_CONSENT_CHANGED, LEADS_SIGNAL,
    CALLS_LOGGED,
    AGENTS_CHANGED, AGENTS_STATUS_CHANGED, AGENTS_GRADED,
    *HOLDER_CHANGE_TOPICS, ALLOCATION_RECLAIM_WARNING, ALLOCATION_HOT_LEAD, ALLOCATION_DEAL_MARK_REQUESTED,
    ALLOCATION_DEAL_MARK_DECIDED, ALLOCATION_WIN_CONFIRMED, ALLOCATION_WIN_REJECTED,
    LEDGER_TRANSFER_REQUESTED, LEDGER_TRANSFER_POSTED, LEDGER_TRANSFER_REJECTED, LEDGER_COINS_ALLOCATED,
    LEDGER_COINS_RECLAIMED, LEDGER_COINS_REDEEMED, LEDGER_BONUS_AWARDED, LEDGER_TRANSFER_RECORDED,
    LEDGER_REALLOCATION_DECIDED, LEDGER_REALLOCATION_AWAITING,
    MARKETPLACE_TIP_SUBMITTED, MARKETPLACE_TIP_REVIEWED, MARKETPLACE_TIP_LISTED, MARKETPLACE_TIP_DELISTED,
    MARKETPLACE_PURCHASE_REQUESTED, MARKETPLACE_PURCHASE_COMPLETED, MARKETPLACE_PURCHASE_REFUSED,
    MARKETPLACE_TIP_VISITED, MARKETPLACE_LEARN_PROGRESSED, MARKETPLACE_TIP_RATED, MARKETPLACE_TIP_FORWARDED,
    MARKETPLACE_DAILY_ACTIVE, MARKETPLACE_DEEP_LEARNER_FLAGGED, MARKETPLACE_STRUGGLE_RECOMMENDED,
    DEAD_LETTERS,
    SECURITY_UNMASK_BUDGET_EXCEEDED,
    PRIVACY_ERASURE_REQUESTED, PRIVACY_ERASURE_COMPLETED,
)

BY_NAME: dict[str, Topic] = {topic.name: topic for topic in ALL_TOPICS}


def broker_config(name: str) -> dict[str, str]:
    """The broker configuration a topic is created with: its contract's, or none for a topic no contract names."""
    topic = BY_NAME.get(name)
    return topic.broker_config if topic is not None else {}
