"""The one-round-trip reads of a purchase batch without I/O: the aggregations asked for (chunked, each id
once) and the reads collected from their answers."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ledger.domain import PurchaseRequest
from ledger.store.reads import ACCOUNT_FIELDS, collect, purchase_pipelines
from telesales_runtime.consumer import Inbox

T = "t1"
INBOX = Inbox(SimpleNamespace(name="inbox"), "ledger")  # type: ignore[arg-type]


def request(n: int, buyer: str, seller: str = "s", day: str = "2026-12-07") -> PurchaseRequest:
    return PurchaseRequest(f"e-{n}", f"p-{n}", buyer, seller, "tip", 10, day)


def lookups(pipeline: list[dict[str, Any]]) -> dict[str, tuple[str, list[str], list[dict[str, Any]]]]:
    out = {}
    for stage in pipeline[1:]:
        lookup = stage["$lookup"]
        out[lookup["as"]] = (lookup["from"], lookup["pipeline"][0]["$match"]["_id"]["$in"], lookup["pipeline"][1:])
    return out


def test_one_aggregation_reads_the_four_collections_each_id_once() -> None:
    (pipeline,) = purchase_pipelines(INBOX, T, [request(1, "b1"), request(2, "b1", "s2"), request(3, "b2")])
    assert pipeline[0] == {"$documents": [{}]}
    found = lookups(pipeline)
    assert found["inbox"] == ("inbox", ["ledger|t1|e-1", "ledger|t1|e-2", "ledger|t1|e-3"],
                              [{"$project": {"event_id": 1}}])
    assert found["transfers"] == ("transfers", ["t1|p-1", "t1|p-2", "t1|p-3"], [])
    assert found["accounts"] == ("accounts", ["t1|wallet:b1", "t1|wallet:b2"], [{"$project": ACCOUNT_FIELDS}])
    assert found["counters"] == ("daily_counters", [
        "t1|2026-12-07|b1", "t1|2026-12-07|b2",
        "t1|2026-12-07|b1|s", "t1|2026-12-07|b1|s2", "t1|2026-12-07|b2|s"], [])


def test_a_large_batch_is_read_in_chunks() -> None:
    requests = [request(n, f"b{n % 3}") for n in range(7)]
    pipelines = purchase_pipelines(INBOX, T, requests, chunk=3)
    assert [len(lookups(p)["transfers"][1]) for p in pipelines] == [3, 3, 1]
    assert [t for p in pipelines for t in lookups(p)["transfers"][1]] == [f"t1|p-{n}" for n in range(7)]
    assert purchase_pipelines(INBOX, T, []) == []


def test_the_answers_of_several_chunks_make_one_set_of_reads() -> None:
    answers = [
        {"inbox": [{"_id": "ledger|t1|e-1", "event_id": "e-1"}],
         "transfers": [{"_id": "t1|p-1", "transfer_id": "p-1", "fingerprint": "f1"}],
         "accounts": [{"_id": "t1|wallet:b1", "key": "wallet:b1", "balance": 70}],
         "counters": [{"day": "d", "buyer_id": "b1", "count": 1, "coins": 30},
                      {"day": "d", "buyer_id": "b1", "seller_id": "s", "count": 1, "coins": 30}]},
        {"inbox": [], "transfers": [],
         "accounts": [{"_id": "t1|wallet:b1", "key": "wallet:b1", "balance": 70},
                      {"_id": "t1|wallet:b2", "key": "wallet:b2", "balance": 5, "allow_negative": True,
                       "allocation_blocked": True}],
         "counters": [{"day": "d", "buyer_id": "b2", "seller_id": None, "count": 2, "coins": 9}]},
    ]
    reads = collect(answers)
    assert reads.processed == {"e-1"}
    assert reads.transfers == {"p-1": answers[0]["transfers"][0]}
    balances = reads.balances
    assert (balances.balance("wallet:b1"), balances.balance("wallet:b2"), balances.balance("wallet:b3")) == (70, 5, 0)
    assert balances.may_go_negative("wallet:b2") and not balances.may_go_negative("wallet:b1")
    assert reads.accounts["wallet:b2"].allocation_blocked and reads.accounts["wallet:b1"].exists
    assert reads.counters.buyer("d", "b1") == (1, 30) and reads.counters.pair("d", "b1", "s") == (1, 30)
    assert reads.counters.buyer("d", "b2") == (2, 9) and reads.counters.pair("d", "b2", "s") == (0, 0)
