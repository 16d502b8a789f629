"""A purchase: one per buyer and tip, paid by the ledger. The aggregate decides a request (a first
attempt, or a new one after a refusal), and what the ledger's answer to the pending attempt does; each
decision returns the change and the events it causes."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from telesales_contracts.ledger import PurchaseRejection, TransferPosted, TransferRejected, TransferRequested
from telesales_contracts.marketplace import PurchaseCompleted, PurchaseRefused, PurchaseRequested
from telesales_contracts.topics import (
    LEDGER_TRANSFER_REQUESTED,
    MARKETPLACE_PURCHASE_COMPLETED,
    MARKETPLACE_PURCHASE_REFUSED,
    MARKETPLACE_PURCHASE_REQUESTED,
)
from telesales_runtime.errors import DomainError

from .announcements import Announcement
from .tips import Tip


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



def check_bought(purchase: Purchase | None) -> Purchase:
    """Learning and rating are for buyers whose purchase the ledger posted."""
    if purchase is None or purchase.status != PurchaseStatus.GRANTED:
        raise DomainError("not_bought", "buy the tip first")
    return purchase


@dataclass(frozen=True)
class Refusal:
    reason: str
    limit: str | None
    limit_value: int | None
    message: str | None
    refused_at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Refusal | None:
        return cls(**doc) if doc else None

    def as_doc(self) -> dict[str, Any]:
        return {"reason": self.reason, "limit": self.limit, "limit_value": self.limit_value,
                "message": self.message, "refused_at": self.refused_at}


@dataclass(frozen=True)
class Conflict:
    """The ledger reported a transfer id conflict for the pending attempt (an operator looks)."""

    message: str | None
    at: datetime

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any] | None) -> Conflict | None:
        return cls(doc["message"], doc["at"]) if doc else None

    def as_doc(self) -> dict[str, Any]:
        return {"message": self.message, "at": self.at}


@dataclass(frozen=True)
class OpenPurchase:
    """Store a new purchase (its first attempt)."""

    purchase: Purchase


@dataclass(frozen=True)
class RetryPurchase:
    """Start the purchase's next attempt, if its attempt `from_attempt` is still the refused one."""

    purchase: Purchase  # as it is after
    from_attempt: int


@dataclass(frozen=True)
class GrantPurchase:
    """The ledger posted the pending attempt `transfer_id`: access (if the attempt is still pending)."""

    purchase_id: str
    transfer_id: str
    granted_at: datetime
    seller_amount: int
    platform_amount: int
    ledger_posted_at: datetime


@dataclass(frozen=True)
class RefusePurchase:
    """The ledger refused the pending attempt `transfer_id` (if it is still pending)."""

    purchase_id: str
    transfer_id: str
    refusal: Refusal


@dataclass(frozen=True)
class FlagConflict:
    """The ledger knows the transfer id with other content: kept pending, for an operator to look at."""

    purchase_id: str
    conflict: Conflict


@dataclass(frozen=True)
class Purchase:
    purchase_id: str
    buyer_id: str
    tip_id: str
    seller_id: str
    version: int
    price: int
    status: PurchaseStatus
    attempt: int
    transfer_id: str
    transfer_ids: tuple[str, ...]
    requested_at: datetime
    created_at: datetime
    refusal: Refusal | None = None
    granted_at: datetime | None = None
    seller_amount: int | None = None
    platform_amount: int | None = None
    ledger_posted_at: datetime | None = None
    conflict: Conflict | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Purchase:
        return cls(doc["purchase_id"], doc["buyer_id"], doc["tip_id"], doc["seller_id"], doc["version"],
                   doc["price"], PurchaseStatus(doc["status"]), doc["attempt"], doc["transfer_id"],
                   tuple(doc["transfer_ids"]), doc["requested_at"], doc["created_at"],
                   Refusal.from_doc(doc.get("refusal")), doc.get("granted_at"), doc.get("seller_amount"),
                   doc.get("platform_amount"), doc.get("ledger_posted_at"), Conflict.from_doc(doc.get("conflict")))

    def as_doc(self) -> dict[str, Any]:
        """The purchase as stored (without its keys) and as the API shows it."""
        doc = {"purchase_id": self.purchase_id, "buyer_id": self.buyer_id, "tip_id": self.tip_id,
               "transfer_ids": list(self.transfer_ids), "created_at": self.created_at, **self.attempt_fields()}
        optional = {"granted_at": self.granted_at, "seller_amount": self.seller_amount,
                    "platform_amount": self.platform_amount, "ledger_posted_at": self.ledger_posted_at,
                    "conflict": self.conflict.as_doc() if self.conflict else None}
        return doc | {k: v for k, v in optional.items() if v is not None}

    def attempt_fields(self) -> dict[str, Any]:
        """What an attempt sets: its transfer, the listed version and its price, and the state."""
        return {"status": self.status.value, "attempt": self.attempt, "transfer_id": self.transfer_id,
                "version": self.version, "price": self.price, "seller_id": self.seller_id,
                "requested_at": self.requested_at, "refusal": self.refusal.as_doc() if self.refusal else None}

    def facts(self) -> dict[str, Any]:
        """What every event about the purchase says of it."""
        return {"purchase_id": self.purchase_id, "transfer_id": self.transfer_id, "attempt": self.attempt,
                "buyer_id": self.buyer_id, "seller_id": self.seller_id, "tip_id": self.tip_id,
                "version": self.version, "price": self.price}

    def answered_status(self, answered_transfer_id: str) -> str | None:
        """Why an answer of the ledger decides nothing (an earlier attempt's, or one the purchase had
        already), or None when it is the answer to the pending attempt."""
        if self.transfer_id != answered_transfer_id:
            return "earlier_attempt"
        if self.status != PurchaseStatus.PENDING:
            return f"already_{self.status.value}"  # a redelivery, a repeat answer or a late one
        return None

    def grant(self, posted: TransferPosted, now: datetime) -> tuple[GrantPurchase, Announcement]:
        change = GrantPurchase(self.purchase_id, posted.transfer_id, now, posted.seller_amount,
                               posted.platform_amount, posted.posted_at)
        event = PurchaseCompleted(**self.facts(), seller_amount=posted.seller_amount, completed_at=now)
        return change, Announcement(MARKETPLACE_PURCHASE_COMPLETED, event, self.buyer_id)

    def refuse(self, rejected: TransferRejected,
               now: datetime) -> FlagConflict | tuple[RefusePurchase, Announcement]:
        if rejected.reason == PurchaseRejection.TRANSFER_ID_CONFLICT:
            # The id was decided before with other content: whatever that was stands in the ledger.
            # Refusing here would let a new attempt pay a second time; an operator has to look.
            return FlagConflict(self.purchase_id, Conflict(rejected.message, now))
        refusal = Refusal(rejected.reason.value, rejected.limit.value if rejected.limit else None,
                          rejected.limit_value, rejected.message, now)
        event = PurchaseRefused(**self.facts(), reason=rejected.reason, limit=rejected.limit,
                                limit_value=rejected.limit_value, message=rejected.message, refused_at=now)
        return (RefusePurchase(self.purchase_id, rejected.transfer_id, refusal),
                Announcement(MARKETPLACE_PURCHASE_REFUSED, event, self.buyer_id))


def request_purchase(existing: Purchase | None, tip: Tip, buyer_id: str,
                     now: datetime) -> OpenPurchase | RetryPurchase | None:
    """A buyer asks for the tip's listed version: a new purchase, or a new attempt of a refused one;
    None when the purchase is pending or granted (the request is answered with it as it stands)."""
    attempt = next_attempt(existing.status if existing else None, existing.attempt if existing else 0)
    if attempt is None:
        return None
    tip.check_buyable(buyer_id)
    transfer = transfer_id(buyer_id, tip.tip_id, attempt)
    assert tip.listed_version is not None and tip.price is not None  # a listed tip has both
    if existing is None:
        return OpenPurchase(Purchase(purchase_id(buyer_id, tip.tip_id), buyer_id, tip.tip_id, tip.author_id,
                                     tip.listed_version, tip.price, PurchaseStatus.PENDING, attempt, transfer,
                                     (transfer,), now, now))
    after = replace(existing, status=PurchaseStatus.PENDING, attempt=attempt, transfer_id=transfer,
                    version=tip.listed_version, price=tip.price, seller_id=tip.author_id, requested_at=now,
                    refusal=None, transfer_ids=(*existing.transfer_ids, transfer))
    return RetryPurchase(after, existing.attempt)


def requested(purchase: Purchase) -> list[Announcement]:
    """What a new attempt announces: the ledger is asked to pay, and the request itself."""
    transfer = TransferRequested(transfer_id=purchase.transfer_id, buyer_id=purchase.buyer_id,
                                 seller_id=purchase.seller_id, tip_id=purchase.tip_id, price=purchase.price)
    return [Announcement(LEDGER_TRANSFER_REQUESTED, transfer, purchase.buyer_id),
            Announcement(MARKETPLACE_PURCHASE_REQUESTED, PurchaseRequested(**purchase.facts(),
                                                                           requested_at=purchase.requested_at),
                         purchase.buyer_id)]
