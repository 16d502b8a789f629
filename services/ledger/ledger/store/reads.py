"""What a batch of purchase requests is decided on, read in one round trip inside its transaction.

A batch needs four look-ups by `_id`: its event ids in the inbox, its transfer ids, its buyers' wallets and
their daily counters. Made as four finds (and the inbox's before the transaction), they cost four round trips
while the batch's accounts are held; at half of saturation these fixed costs are most of a batch's time, and
a request waits for two or three batches. Here one aggregation reads all four: `$documents` makes one empty
document and a `$lookup` per collection (uncorrelated: each is a find by `_id` on the collection's own index)
adds that collection's documents to it. `$lookup` runs inside a transaction and reads its snapshot, as a find
would; `$unionWith` would not run there.

The answer is one document per chunk of requests, each far below MongoDB's 16 MB (a few KB per request)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from telesales_runtime.consumer import Inbox

from ..domain import Account, Balances, DailyCounters, PurchaseRequest, wallet
from .documents import Doc, buyer_counter_id, pair_counter_id, scoped

CHUNK = 1000  # requests per answer document
ACCOUNT_FIELDS: Doc = {"key": 1, "balance": 1, "allow_negative": 1, "allocation_blocked": 1}


def account_state(doc: Doc) -> Account:
    """An account as stored (what decisions need of it)."""
    return Account(doc["key"], int(doc.get("balance", 0)), bool(doc.get("allow_negative")), True,
                   bool(doc.get("allocation_blocked")))


def add_counter(counters: DailyCounters, doc: Doc) -> None:
    """A stored daily counter (a buyer's, or a buyer-seller pair's when it names the seller)."""
    value = (int(doc["count"]), int(doc["coins"]))
    if doc.get("seller_id") is None:
        counters.buyers[(doc["day"], doc["buyer_id"])] = value
    else:
        counters.pairs[(doc["day"], doc["buyer_id"], doc["seller_id"])] = value


@dataclass
class PurchaseReads:
    processed: set[str] = field(default_factory=set)  # event ids this consumer processed before
    transfers: dict[str, Doc] = field(default_factory=dict)  # the stored record of each transfer id seen before
    accounts: dict[str, Account] = field(default_factory=dict)  # the buyers' wallets that exist
    counters: DailyCounters = field(default_factory=DailyCounters)

    @property
    def balances(self) -> Balances:
        return Balances(self.accounts.values())


def _lookup(collection: str, ids: Iterable[str], name: str, projection: Doc | None = None) -> Doc:
    pipeline: list[Doc] = [{"$match": {"_id": {"$in": list(dict.fromkeys(ids))}}}]
    if projection is not None:
        pipeline.append({"$project": projection})
    return {"$lookup": {"from": collection, "pipeline": pipeline, "as": name}}


def purchase_pipelines(inbox: Inbox, tenant: str, requests: Sequence[PurchaseRequest],
                       chunk: int = CHUNK) -> list[list[Doc]]:
    """One aggregation per `chunk` requests, each answering one document with the arrays `inbox`,
    `transfers`, `accounts` and `counters`."""
    pipelines = []
    for start in range(0, len(requests), chunk):
        part = requests[start:start + chunk]
        pipelines.append([
            {"$documents": [{}]},
            _lookup(inbox.collection.name, (inbox.id_of(tenant, r.event_id) for r in part), "inbox", {"event_id": 1}),
            _lookup("transfers", (scoped(tenant, r.transfer_id) for r in part), "transfers"),
            _lookup("accounts", (scoped(tenant, wallet(r.buyer_id)) for r in part), "accounts", ACCOUNT_FIELDS),
            _lookup("daily_counters", [*(buyer_counter_id(tenant, r.day, r.buyer_id) for r in part),
                                       *(pair_counter_id(tenant, r.day, r.buyer_id, r.seller_id) for r in part)],
                    "counters"),
        ])
    return pipelines


def collect(answers: Iterable[Doc]) -> PurchaseReads:
    """The reads of a batch from the answer documents of its aggregations."""
    reads = PurchaseReads()
    for answer in answers:
        reads.processed.update(doc["event_id"] for doc in answer["inbox"])
        reads.transfers.update((doc["transfer_id"], doc) for doc in answer["transfers"])
        reads.accounts.update((doc["key"], account_state(doc)) for doc in answer["accounts"])
        for doc in answer["counters"]:
            add_counter(reads.counters, doc)
    return reads


async def purchase_reads(db: AsyncDatabase[Doc], inbox: Inbox, tenant: str, requests: Sequence[PurchaseRequest],
                         session: AsyncClientSession) -> PurchaseReads:
    answers: list[Any] = []
    for pipeline in purchase_pipelines(inbox, tenant, requests, CHUNK):
        answers += await (await db.aggregate(pipeline, session=session)).to_list()
    return collect(answers)
