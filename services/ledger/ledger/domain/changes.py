"""What one unit of work writes, typed: the aggregates decide these and the store compiles them into
MongoDB's guarded updates, all in one transaction. Nothing here knows how they are stored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel

from telesales_contracts import Topic
from telesales_contracts.ledger import TransferRecorded
from telesales_contracts.topics import LEDGER_TRANSFER_RECORDED

from .accounts import Balances

if TYPE_CHECKING:
    from .learning import Learned

Record = dict[str, Any]

# A transfer's states: a hold goes pending -> posted or voided; a refused purchase is kept as rejected.
PENDING, POSTED, VOIDED, REJECTED = "pending", "posted", "voided", "rejected"


class Recordable(Protocol):
    transfer_id: str

    def record(self) -> Record: ...


@dataclass(slots=True)  # not frozen: a frozen dataclass takes seven times as long to build, on the purchases' path
class Transfer:
    """One movement of coins, never changed once recorded (a hold's later state change is a
    `HoldResolution`)."""

    transfer_id: str
    kind: str
    debit: str
    credit: str
    amount: int
    at: datetime
    by: str
    state: str = POSTED
    linked_group: str | None = None
    hold_id: str | None = None
    fingerprint: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)  # target, expires_at, note, purchase, ...

    def record(self) -> Record:
        record: Record = {"transfer_id": self.transfer_id, "kind": self.kind, "state": self.state,
                          "debit": self.debit, "credit": self.credit, "amount": self.amount,
                          "linked_group": self.linked_group, "hold_id": self.hold_id, "created_at": self.at,
                          "posted_at": self.at if self.state == POSTED else None, "by": self.by}
        if self.fingerprint is not None:
            record["fingerprint"] = self.fingerprint
        record.update(self.details)
        return record

    def recorded(self) -> Event:
        """ledger.transfer-recorded.v1, for transfers made over HTTP and the legs of holds."""
        data = TransferRecorded(transfer_id=self.transfer_id, kind=self.kind, state=self.state,
                                debit_account=self.debit, credit_account=self.credit, amount=self.amount,
                                hold_id=self.hold_id, linked_group=self.linked_group,
                                expires_at=self.details.get("expires_at"), by=self.by, at=self.at)
        return Event(LEDGER_TRANSFER_RECORDED, data, self.hold_id or self.transfer_id)


@dataclass(frozen=True)
class Event:
    """An event a change announces (written to the outbox in the same transaction)."""

    topic: Topic
    data: BaseModel
    key: str
    subject: str | None = None


@dataclass(frozen=True)
class HoldResolution:
    """A pending hold posted or voided: `fields` set only while it is still pending."""

    hold_id: str
    fields: Record


@dataclass(frozen=True)
class Operation:
    """An allocation or a blind-box draw: one client id for many transfers."""

    op_id: str
    kind: str
    fields: Record

    def record(self) -> Record:
        return {"op_id": self.op_id, "kind": self.kind, **self.fields}


@dataclass(frozen=True)
class RequestDecision:
    """A reallocation request approved (at a level, or for good) or rejected: `fields` set only while it is
    still pending and, with `approvals_before`, while it still holds that many approvals (no other approval
    was recorded meanwhile)."""

    request_id: str
    fields: Record
    approvals_before: int | None = None


@dataclass(frozen=True)
class CounterIncrement:
    """Purchases and coins added to a buyer's (seller None) or a buyer-seller pair's counter of a day."""

    day: str
    buyer_id: str
    seller_id: str | None
    count: int
    coins: int


@dataclass(frozen=True)
class RosterUpdate:
    """A user's roster record: `fields` set, `on_insert` only when the user is new."""

    user_id: str
    fields: Record
    on_insert: Record


@dataclass(frozen=True)
class Processed:
    """A consumed event id, recorded with what became of it (the consumer's idempotency)."""

    event_id: str
    fields: Record


@dataclass
class Changes:
    """Everything one transaction writes."""

    tenant: str
    now: datetime
    balances: Balances | None = None
    transfers: list[Recordable] = field(default_factory=list)
    hold_resolutions: list[HoldResolution] = field(default_factory=list)
    account_fields: dict[str, Record] = field(default_factory=dict)  # extra $set per account key
    activity: dict[str, datetime] = field(default_factory=dict)  # last_activity_at (the later one wins)
    counters: list[CounterIncrement] = field(default_factory=list)
    operations: list[Operation] = field(default_factory=list)
    roster: list[RosterUpdate] = field(default_factory=list)
    new_requests: list[Record] = field(default_factory=list)  # reallocation requests made
    request_decisions: list[RequestDecision] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    outbox: list[Record] = field(default_factory=list)  # events encoded already (the purchases' answers)
    inbox: list[Processed] = field(default_factory=list)
    learning: list[Learned] = field(default_factory=list)  # learning reports that added watch time or tips

    def empty(self) -> bool:
        return not (self.transfers or self.hold_resolutions or self.account_fields or self.activity or self.counters
                    or self.operations or self.roster or self.new_requests or self.request_decisions or self.events or self.outbox
                    or self.learning or (self.balances and self.balances.changes()))
