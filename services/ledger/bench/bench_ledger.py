#!/usr/bin/env python3
"""ledger benchmark on the real broker and database (`make bench-ledger`).

Funds 10,000 wallets through the ledger's own HTTP API (one issue into the budget, then allocations of
1,000 users each), sends 200,000 purchase requests (ledger.transfer-requested.v1) through Kafka to a
ledger started as a subprocess, and measures in one run, one phase after the other:

  ceiling      single-document conditional updates shaped like the ledger's guarded debit,
               update_one({_id, balance: {$gte: amount}}, {$inc: {balance: -amount}, $set, $max}) with
               write concern majority, by 100 concurrent tasks on 10,000 account documents of the
               ledger's own shape and indexes: ops/s, before and after the purchases (the better counts)
  purchases    every request must get exactly one answer (ledger.transfer-posted.v1 or
               ledger.transfer-rejected.v1), the one the pure domain gives for the same stream:
               answered/s and posted/s = answers / (last answer seen - first send); latency from each
               send to its answer seen, and to its answer's Kafka timestamp
  paced        20,000 more requests sent on a fixed schedule at half the answered throughput: latency
               from each scheduled send (no coordinated omission)
  checks       the ledger's audit (conservation, no forbidden negative balance, every balance
               recomputed from the transfers), posted transfers stored = posted answers, one inbox entry
               per request, every balance equal to the domain's

Target (issue 4): posted transfers/s >= 50 % of the ceiling. Exit 0 when everything was measured (also
when the target is missed: "TARGET MISSED"), 1 when a request went unanswered, a check failed or
anything broke. See README.md beside this file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import platform
import random
import re
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.write_concern import WriteConcern

from ledger import domain
from ledger.domain import AccountState, Balances, DailyCounters, DailyLimits, LedgerPolicy, PurchaseRequest, wallet
from ledger.events import CONSUMED_TOPICS
from ledger.settings import LedgerSettings
from ledger.store import LedgerStore, account_doc_defaults, scoped
from telesales_contracts import CLOUDEVENTS_CONTENT_TYPE
from telesales_contracts.ledger import TransferRequested
from telesales_contracts.topics import (
    DEAD_LETTERS,
    LEDGER_TRANSFER_POSTED,
    LEDGER_TRANSFER_REJECTED,
    LEDGER_TRANSFER_REQUESTED,
)
from telesales_runtime.kafka import topic_partitions
from telesales_testkit.auth import auth_headers
from telesales_testkit.bench import (
    LOAD_PRODUCER_OPTIONS,
    REPO_ROOT,
    BenchError,
    BenchService,
    CpuWatch,
    Sent,
    bench_run,
    find_pids,
    free_port,
    git_state,
    latency_summary,
    log_tail,
    note,
    publish_report,
    run_benchmark,
    say,
    send_all,
    wait_idle,
    wait_machine_quiet,
)
from telesales_testkit.kafka import position_group_at_end
from telesales_testkit.memory import Memory, memory_table

DEFAULT_OUT = REPO_ROOT / "bench-results" / "ledger.json"
OTHER_LEDGER = {"other ledger": "ledger.main"}
TARGET_RATIO = 0.50
DISTURBED_PCT = 15.0
PROGRESS_EVERY_S = 5.0
ALLOCATION_CHUNK = 1000
WARM_UP_REQUESTS = 30
CEILING_BALANCE = 10**9  # no debit of the ceiling can fail its guard
ACTOR = "bench-operator"

# Tip (锦囊) price points in coins.
PRICES = (9, 19, 29, 39, 49, 59, 69, 88, 99)
# The bench tenant's policy: the defaults (buyer 2,000 coins a day, 3 purchases a day per buyer-seller
# pair), except that the platform keeps 10 % (so every purchase also posts its fee leg to the budget) and a
# buyer may make 50 purchases a day instead of 20 (200,000 purchases among 10,000 buyers are 20 each on
# average: with the default, 44 % of the buyers would go over the count limit and 9 % of the requests be refused).
POLICY = LedgerPolicy(seller_share_percent=90, daily_limits=DailyLimits(buyer_daily_count=50))

# The paced run sends each request at once (its latency is the ledger's, not the client's batching).
PACED_PRODUCER_OPTIONS: dict[str, Any] = {**LOAD_PRODUCER_OPTIONS, "linger_ms": 0}
# The reader of the answers fetches as soon as anything is there (fetch_min_bytes 1): the relay publishes a
# batch's answers together, so that is one fetch per batch, large at saturation. (It once waited for 1 MB or
# 0.5 s per fetch to spare the broker: at half of saturation that is 0.5 s per fetch, and every answer was
# seen up to 0.5 s late, the larger part of the latency reported.)
READER_OPTIONS: dict[str, Any] = {
    "enable_auto_commit": False,
    "max_partition_fetch_bytes": 8 * 1024 * 1024,
    "fetch_max_wait_ms": 500,
    "fetch_min_bytes": 1,
}


# =============================================================================== the workload
@dataclass
class Workload:
    tenant: str
    source: str
    users: list[str]
    sellers: list[str]
    funds: int
    time: datetime
    day: str
    transfer_ids: list[str]
    payloads: list[bytes]
    keys: list[bytes]
    expected: dict[str, tuple[str, str | None, str | None]] = field(default_factory=dict)
    expected_balances: dict[str, int] = field(default_factory=dict)

    @property
    def avg_bytes(self) -> float:
        return sum(map(len, self.payloads)) / max(1, len(self.payloads))


def generate_workload(args: argparse.Namespace, run: str, tenant: str, tz: Any) -> Workload:
    """`--accounts` agents, each with a wallet of `--funds` coins, `--sellers` of them selling tips; the
    purchase requests of both runs as CloudEvents (structured JSON, valid per the contract), deterministic
    for a seed: a random buyer, a seller other than the buyer (popular sellers sell more: weight
    1/sqrt(rank)), one of the seller's tips and its price; each with its own transfer id."""
    rng = random.Random(args.seed)
    users = [f"agent-{i:05d}" for i in range(args.accounts)]
    sellers = rng.sample(users, args.sellers)
    cum_weights = list(itertools.accumulate(1 / math.sqrt(rank + 1) for rank in range(len(sellers))))
    at = datetime.now(UTC).replace(microsecond=0)  # one business day for every request of the run
    source = f"/bench/marketplace-{run}"
    w = Workload(tenant, source, users, sellers, args.funds, at, domain.business_day(at, tz), [], [], [])
    requests: list[PurchaseRequest] = []
    time_text = at.isoformat()
    for i in range(args.transfers + args.paced_transfers):
        buyer = rng.choice(users)
        seller = rng.choices(sellers, cum_weights=cum_weights)[0]
        while seller == buyer:
            seller = rng.choices(sellers, cum_weights=cum_weights)[0]
        transfer_id = f"tx-{i:07d}"
        tip = f"tip-{seller}-{rng.randrange(12):02d}"
        price = rng.choice(PRICES)
        event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        data = {"transfer_id": transfer_id, "buyer_id": buyer, "seller_id": seller, "tip_id": tip, "price": price}
        event = {"specversion": "1.0", "id": event_id, "source": source, "type": LEDGER_TRANSFER_REQUESTED.event_type,
                 "time": time_text, "subject": transfer_id, "datacontenttype": "application/json", "tenantid": tenant,
                 "data": data}
        w.transfer_ids.append(transfer_id)
        w.payloads.append(json.dumps(event, separators=(",", ":")).encode())
        w.keys.append(buyer.encode())
        requests.append(PurchaseRequest(event_id, transfer_id, buyer, seller, tip, price, w.day))
    predict(w, requests)
    return w


def predict(w: Workload, requests: list[PurchaseRequest]) -> None:
    """What the ledger must answer and hold: the pure domain deciding the whole stream one request after
    another. Each buyer's requests are keyed by the buyer (one partition, in order) and a decision depends
    only on the buyer's wallet and counters, so the interleaving of buyers does not change any outcome."""
    balances = Balances([AccountState(wallet(u), w.funds, False, True) for u in w.users])
    decisions = domain.decide_purchases(requests, {}, balances, DailyCounters(), POLICY)
    w.expected = {d.request.transfer_id: (d.outcome, d.reason.value if d.reason else None,
                                          d.limit.value if d.limit else None) for d in decisions}
    final = {"issuance": -w.funds * len(w.users), **{wallet(u): w.funds for u in w.users}}
    for key, delta in balances.changes().items():
        final[key] = final.get(key, 0) + delta
    w.expected_balances = {k: v for k, v in final.items() if v}


def validate_sample(w: Workload, count: int = 2000) -> None:
    """The requests must pass the contract, else they would be dead-lettered instead of answered."""
    step = max(1, len(w.payloads) // count)
    for payload in w.payloads[::step]:
        LEDGER_TRANSFER_REQUESTED.parse(payload)


def outcome_counts(expected: dict[str, tuple[str, str | None, str | None]], ids: list[str]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for tid in ids:
        outcome, reason, limit = expected[tid]
        counts[outcome if outcome == "posted" else f"rejected: {limit or reason}"] += 1
    return dict(sorted(counts.items()))


# =============================================================================== the service under test
class Service(BenchService):
    """The ledger under test: its own database, consumer group and event source; no background sweeps."""

    def __init__(self, run: str, port: int, log_path: Path, batch_max_records: int | None) -> None:
        env = {"SWEEP_ENABLED": "false"}
        if batch_max_records:
            env["BATCH_MAX_RECORDS"] = str(batch_max_records)
        super().__init__("ledger", "ledger", "LEDGER_", run, port, log_path, env)


def scrape_metrics(text: str) -> dict[str, Any]:
    """Handler calls and time for purchase requests, and the purchases decided, from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    topic = LEDGER_TRANSFER_REQUESTED.name
    out: dict[str, Any] = {"handler_calls": 0.0, "handler_seconds": 0.0, "messages": 0.0, "purchases": {},
                           "handler_errors": 0.0, "dead_letters": 0.0}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "telesales_handler_duration_seconds_count" and labels.get("topic") == topic:
                out["handler_calls"] += sample.value
            elif sample.name == "telesales_handler_duration_seconds_sum" and labels.get("topic") == topic:
                out["handler_seconds"] += sample.value
            elif sample.name == "telesales_messages_consumed_total" and labels.get("topic") == topic:
                out["messages"] += sample.value
            elif sample.name == "telesales_handler_errors_total" and labels.get("topic") == topic:
                out["handler_errors"] += sample.value
            elif sample.name == "telesales_dead_letters_total":
                out["dead_letters"] += sample.value
            elif sample.name == "ledger_purchases_total":
                label = labels.get("outcome", "?") + (f": {labels['reason']}" if labels.get("reason") else "")
                out["purchases"][label] = out["purchases"].get(label, 0.0) + sample.value
    return out


def metrics_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The figures of one phase: handler calls, average batch and time per batch."""
    calls = after["handler_calls"] - before["handler_calls"]
    seconds = after["handler_seconds"] - before["handler_seconds"]
    messages = after["messages"] - before["messages"]
    return {"handler_calls": calls, "handler_seconds": seconds, "messages": messages,
            "avg_batch_size": messages / calls if calls else None,
            "avg_handler_ms": 1000 * seconds / calls if calls else None,
            "handler_errors": after["handler_errors"] - before["handler_errors"],
            "dead_letters": after["dead_letters"] - before["dead_letters"]}


# =============================================================================== reading the answers
@dataclass(slots=True)
class Answer:
    posted: bool
    reason: str | None
    limit: str | None
    repeat: bool
    event_id: str
    seen: float  # perf_counter when the reader got it
    published: float  # its Kafka timestamp (epoch seconds)


class AnswerReader:
    """Reads ledger.transfer-posted.v1 and ledger.transfer-rejected.v1 from their true end on, keeps the
    answers of the bench service (its event source) to the requests registered with `expect`, and notes
    when each was seen. Also watches the dead-letter topic for this run's requests."""

    TOPICS = (LEDGER_TRANSFER_POSTED.name, LEDGER_TRANSFER_REJECTED.name)

    def __init__(self, bootstrap: str, service_source: str, run: str) -> None:
        self.bootstrap = bootstrap
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, **READER_OPTIONS)
        self.source = service_source
        self.marker = service_source.encode()
        self.run_marker = run.encode()
        self.phase_of: dict[str, str] = {}  # "tenant|transfer id" -> phase
        self.answers: dict[str, Answer] = {}
        self.counts: Counter[str] = Counter()
        self.last_seen: dict[str, float] = {}
        self.redelivered = 0  # the same answer (same event id) read again: the relay published it twice
        self.second_answers: list[dict[str, Any]] = []  # a different answer to a request already answered
        self.unexpected: list[dict[str, Any]] = []
        self.dead_letters: list[str] = []
        self.records_read = 0
        self._task: asyncio.Task[None] | None = None
        self._stop = False

    def expect(self, phase: str, tenant: str, transfer_ids: list[str]) -> None:
        for tid in transfer_ids:
            self.phase_of[f"{tenant}|{tid}"] = phase

    async def start(self) -> None:
        await self.consumer.start()
        topics = (*self.TOPICS, DEAD_LETTERS.name)
        tps = await topic_partitions(self.consumer, topics)
        missing = set(topics) - {tp.topic for tp in tps}
        if missing:
            raise BenchError(f"topics {sorted(missing)} do not exist although the ledger is ready")
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        self._task = asyncio.create_task(self._run(), name="bench-answer-reader")

    async def _run(self) -> None:
        while not self._stop:
            batch = await self.consumer.getmany(timeout_ms=100, max_records=20_000)
            now = time.perf_counter()
            for tp, records in batch.items():
                self.records_read += len(records)
                for record in records:
                    value = record.value or b""
                    if tp.topic == DEAD_LETTERS.name:
                        if self.run_marker in value:
                            self.dead_letters.append(value[:1500].decode(errors="replace"))
                        continue
                    if self.marker not in value:
                        continue
                    event = json.loads(value)
                    if event.get("source") != self.source:
                        continue
                    data = event["data"]
                    key = f"{event.get('tenantid')}|{data.get('transfer_id')}"
                    phase = self.phase_of.get(key)
                    if phase is None:
                        self.unexpected.append({"topic": tp.topic, "tenant": event.get("tenantid"), "data": data})
                        continue
                    known = self.answers.get(key)
                    if known is not None:
                        if known.event_id == event["id"]:
                            self.redelivered += 1
                        else:
                            self.second_answers.append({"topic": tp.topic, "data": data})
                        continue
                    self.answers[key] = Answer(tp.topic == LEDGER_TRANSFER_POSTED.name, data.get("reason"),
                                               data.get("limit"), bool(data.get("repeat")), event["id"], now,
                                               record.timestamp / 1000.0)
                    self.counts[phase] += 1
                    self.last_seen[phase] = now

    def check(self) -> None:
        if self._task is not None and self._task.done() and not self._task.cancelled():
            error = self._task.exception()
            if error is not None:
                raise BenchError(f"the answer reader failed: {error!r}") from error
        if self.dead_letters:
            raise BenchError(f"{len(self.dead_letters)} requests of this run were dead-lettered; first: "
                             f"{self.dead_letters[0]}")
        if self.second_answers:
            raise BenchError(f"{len(self.second_answers)} requests got a second, different answer; first: "
                             f"{self.second_answers[:2]}")
        if self.unexpected:
            raise BenchError(f"{len(self.unexpected)} answers to requests this run did not send; first: "
                             f"{self.unexpected[:2]}")

    async def wait(self, phase: str, n: int, timeout: float, service: Service) -> None:
        """Until `n` requests of `phase` are answered; fails on a timeout, a dead service or a wrong answer."""
        started = time.perf_counter()
        next_report = started + PROGRESS_EVERY_S
        while self.counts[phase] < n:
            self.check()
            service.check_alive()
            now = time.perf_counter()
            if now - started > timeout:
                raise BenchError(f"{phase}: only {self.counts[phase]:,} of {n:,} requests answered within "
                                 f"{timeout:.0f}s; ledger log {service.log_path}:\n{log_tail(service.log_path, 30)}")
            if now >= next_report:
                note(f"{phase}: answered {self.counts[phase]:,}/{n:,} [{now - started:.0f}s]")
                next_report = now + PROGRESS_EVERY_S
            await asyncio.sleep(0.1)
        self.check()

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, timeout=5)
        await self.consumer.stop()


# =============================================================================== context
@dataclass
class Context:
    args: argparse.Namespace
    run: str
    tenant: str
    warm_tenant: str
    stack_env: dict[str, str]
    mongo: AsyncMongoClient[dict[str, Any]]
    out_dir: Path
    warnings: list[str] = field(default_factory=list)
    bench_dbs: list[str] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return self.stack_env["TELESALES_KAFKA_BOOTSTRAP"]

    @property
    def kafka_port(self) -> int:
        return int(self.bootstrap.rsplit(":", 1)[1])

    @property
    def mongo_port(self) -> int:
        return int(re.search(r":(\d+)/", self.stack_env["TELESALES_MONGO_URI"]).group(1))  # type: ignore[union-attr]

    def pids(self, service_pid: int | None = None) -> dict[str, list[int]]:
        exclude = {os.getpid(), *([service_pid] if service_pid else [])}
        found = find_pids(self.kafka_port, self.mongo_port, exclude=exclude, services=OTHER_LEDGER)
        groups = {"ledger under test": [service_pid]} if service_pid else {}
        return {**groups, "benchmark (load + reader)": [os.getpid()], **found}


# =============================================================================== ceiling
async def prepare_ceiling(ctx: Context, w: Workload) -> tuple[Any, list[str]]:
    """A collection of one account document per agent, the ledger's own shape (`account_doc_defaults`,
    as a wallet's first credit writes it) and the ledger's own indexes (`LedgerStore.ensure_indexes`), in a
    database of its own; balances high enough that no debit fails its guard."""
    db_name = f"bench_ledger_ceiling_{ctx.run}"
    ctx.bench_dbs.append(db_name)
    store = LedgerStore(ctx.mongo, db_name, consumer="bench-ceiling")
    await store.ensure_indexes()
    now = datetime.now(UTC)
    docs = [{"_id": scoped(w.tenant, wallet(u)), **account_doc_defaults(w.tenant, wallet(u), now),
             "balance": CEILING_BALANCE, "updated_at": now} for u in w.users]
    for start in range(0, len(docs), 5000):
        await store.accounts.insert_many(docs[start:start + 5000], ordered=False)
    # The ledger commits its transactions with write concern majority: so do these writes.
    return store.accounts.with_options(write_concern=WriteConcern("majority")), [d["_id"] for d in docs]


async def measure_ceiling(ctx: Context, accounts: Any, ids: list[str], seed: int) -> dict[str, Any]:
    """`--ceiling-ops` guarded debits of random accounts by `--concurrency` tasks, each one awaited
    before its task starts the next: the write a purchase's debit of the buyer's wallet is, alone."""
    rng = random.Random(seed)
    plan = iter([(rng.choice(ids), rng.choice(PRICES)) for _ in range(ctx.args.ceiling_ops)])
    latencies: list[float] = []
    missed = 0

    async def worker() -> None:
        nonlocal missed
        for account_id, amount in plan:
            now = datetime.now(UTC)
            started = time.perf_counter()
            result = await accounts.update_one(
                {"_id": account_id, "balance": {"$gte": amount}},
                {"$inc": {"balance": -amount}, "$set": {"updated_at": now}, "$max": {"last_activity_at": now}})
            latencies.append(time.perf_counter() - started)
            if result.modified_count != 1:
                missed += 1

    await wait_machine_quiet(ctx.args.idle_timeout)
    watch = CpuWatch(ctx.pids()).start()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(ctx.args.concurrency)))
    elapsed = time.perf_counter() - started
    cpu = watch.stop()
    if missed:
        raise BenchError(f"ceiling: {missed} of {ctx.args.ceiling_ops} guarded debits matched no document")
    return {"ops": ctx.args.ceiling_ops, "concurrency": ctx.args.concurrency, "elapsed_s": elapsed,
            "throughput_per_s": ctx.args.ceiling_ops / elapsed, "latency": latency_summary(latencies), "cpu": cpu}


# =============================================================================== seeding through the ledger
async def seed(ctx: Context, http: httpx.AsyncClient, service: Service, w: Workload) -> dict[str, Any]:
    """The tenant's policy, one issue of every coin the wallets get into the budget, allocations of
    `--funds` coins to every agent (1,000 per allocation), all through the ledger's HTTP API; then until
    the relay has published every event they wrote."""
    headers = auth_headers("operator", ACTOR, tenant=w.tenant)
    base = service.base_url
    t0 = time.perf_counter()
    response = await http.put(f"{base}/v1/config/policy", json=POLICY.model_dump(mode="json"), headers=headers)
    if response.status_code != 200:
        raise BenchError(f"PUT /v1/config/policy: {response.status_code} {response.text[:500]}")
    total = w.funds * len(w.users)
    response = await http.post(f"{base}/v1/issues", headers=headers,
                               json={"id": "bench-issue", "amount": total, "note": f"bench run {ctx.run}"})
    if response.status_code != 201:
        raise BenchError(f"POST /v1/issues: {response.status_code} {response.text[:500]}")
    issue_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    allocated = 0
    for n, start in enumerate(range(0, len(w.users), ALLOCATION_CHUNK)):
        chunk = w.users[start:start + ALLOCATION_CHUNK]
        response = await http.post(f"{base}/v1/allocations", headers=headers, timeout=300, json={
            "id": f"bench-allocation-{n:03d}", "amount": w.funds, "user_ids": chunk, "note": "bench wallets"})
        if response.status_code != 201 or len(response.json()["allocated"]) != len(chunk):
            raise BenchError(f"POST /v1/allocations: {response.status_code} {response.text[:500]}")
        allocated += len(chunk)
    allocations_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    await wait_outbox_empty(ctx, service, ctx.args.timeout)
    relay_s = time.perf_counter() - t2
    return {"wallets": allocated, "sellers": len(w.sellers), "coins_issued": total, "funds_per_wallet": w.funds,
            "issue_and_policy_s": issue_s, "allocations_s": allocations_s,
            "allocations": math.ceil(len(w.users) / ALLOCATION_CHUNK), "relay_drain_s": relay_s,
            "elapsed_s": time.perf_counter() - t0}


async def wait_outbox_empty(ctx: Context, service: Service, timeout: float) -> None:
    outbox = ctx.mongo[service.db]["outbox"]
    started = time.perf_counter()
    while await outbox.count_documents({}, limit=1):
        service.check_alive()
        if time.perf_counter() - started > timeout:
            left = await outbox.count_documents({})
            raise BenchError(f"the relay left {left:,} events unpublished after {timeout:.0f}s")
        await asyncio.sleep(0.2)


def warm_up_payloads(ctx: Context) -> tuple[list[str], list[bytes], list[bytes]]:
    """Requests of a tenant of their own, whose buyers hold nothing (each refused: insufficient funds):
    the ledger's consumer has joined its group and answers before the measurement starts."""
    ids, payloads, keys = [], [], []
    for i in range(WARM_UP_REQUESTS):
        buyer, tid = f"warm-{i % 10}", f"warm-{i:03d}"
        event = LEDGER_TRANSFER_REQUESTED.event(
            TransferRequested(transfer_id=tid, buyer_id=buyer, seller_id="warm-seller", tip_id="warm-tip", price=10),
            source=f"/bench/marketplace-{ctx.run}", tenantid=ctx.warm_tenant, subject=tid)
        ids.append(tid)
        payloads.append(event.to_json_bytes())
        keys.append(buyer.encode())
    return ids, payloads, keys


# =============================================================================== producing
HEADERS = [("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())]


async def produce_paced(producer: AIOKafkaProducer, payloads: list[bytes], keys: list[bytes], rate: float) -> Sent:
    """One request every 1/rate s on a fixed schedule; a request's send time is its scheduled time, so a
    send late behind the schedule counts in its latency."""
    loop = asyncio.get_running_loop()
    futures = []
    times: list[float] = []
    base = time.perf_counter()
    start = loop.time()
    for i, (payload, key) in enumerate(zip(payloads, keys, strict=True)):
        due = start + i / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        times.append(base + (due - start))
        futures.append(await producer.send(LEDGER_TRANSFER_REQUESTED.name, payload, key=key, headers=HEADERS))
    last = time.perf_counter()
    metadata = await asyncio.gather(*futures)
    return Sent(base, last, times, list(metadata))


# =============================================================================== measurements
async def run_phase(ctx: Context, reader: AnswerReader, service: Service, http: httpx.AsyncClient, phase: str,
                    w: Workload, lo: int, hi: int, rate: float | None) -> dict[str, Any]:
    """Send requests lo..hi (all at once, or paced at `rate`/s) and wait for every answer."""
    ids, payloads, keys = w.transfer_ids[lo:hi], w.payloads[lo:hi], w.keys[lo:hi]
    reader.expect(phase, w.tenant, ids)
    producer = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap,
                                **(LOAD_PRODUCER_OPTIONS if rate is None else PACED_PRODUCER_OPTIONS))
    await producer.start()
    metrics_before = scrape_metrics((await http.get(f"{service.base_url}/metrics", timeout=30)).text)
    watch = CpuWatch(ctx.pids(service.proc.pid if service.proc else None))
    try:
        wall_offset = time.time() - time.perf_counter()  # perf_counter -> epoch, for the Kafka timestamps
        watch.start()
        if rate is None:
            producing = asyncio.create_task(send_all(producer, LEDGER_TRANSFER_REQUESTED.name, payloads, keys, HEADERS))
        else:
            producing = asyncio.create_task(produce_paced(producer, payloads, keys, rate))
        waiting = asyncio.create_task(reader.wait(phase, len(ids), ctx.args.timeout, service))
        done, _ = await asyncio.wait({producing, waiting}, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                for other in (producing, waiting):
                    other.cancel()
                raise task.exception()  # type: ignore[misc]
        sent = await producing
        await waiting
        cpu = watch.stop()
    finally:
        await producer.stop()
    metrics = metrics_delta(metrics_before, scrape_metrics((await http.get(f"{service.base_url}/metrics",
                                                                            timeout=30)).text))
    answers = [reader.answers[f"{w.tenant}|{tid}"] for tid in ids]
    elapsed = reader.last_seen[phase] - sent.first_send
    posted = sum(a.posted for a in answers)
    latencies = [a.seen - t for a, t in zip(answers, sent.send_times, strict=True)]
    published = [a.published - (t + wall_offset) for a, t in zip(answers, sent.send_times, strict=True)]
    result: dict[str, Any] = {
        "requests": len(ids), "answered": len(answers), "posted": posted, "rejected": len(answers) - posted,
        "rejected_by_reason": dict(Counter(a.limit or a.reason for a in answers if not a.posted)),
        "elapsed_s": elapsed, "produce_s": sent.last_send - sent.first_send,
        "answered_per_s": len(answers) / elapsed, "posted_per_s": posted / elapsed,
        "latency": latency_summary(latencies), "metrics": metrics, "cpu": cpu,
    }
    if rate is not None:
        result["offered_per_s"] = rate
        result["achieved_send_rate_per_s"] = len(ids) / max(1e-9, sent.last_send - sent.first_send)
    if min(published) > -0.05:
        elapsed_ts = max(a.published for a in answers) - (sent.first_send + wall_offset)
        result["by_kafka_timestamp"] = {"answered_per_s": len(answers) / elapsed_ts,
                                        "posted_per_s": posted / elapsed_ts, "latency": latency_summary(published)}
    else:
        ctx.warnings.append(f"{phase}: the answers carry no usable Kafka timestamps; no cross-check")
    return result


def check_outcomes(w: Workload, reader: AnswerReader) -> dict[str, Any]:
    """Every answer is the one the pure domain gives for the same stream, and none is a repeat."""
    wrong: list[dict[str, Any]] = []
    repeats = 0
    for tid in w.transfer_ids:
        answer = reader.answers[f"{w.tenant}|{tid}"]
        repeats += answer.repeat
        got = ("posted", None, None) if answer.posted else ("rejected", answer.reason, answer.limit)
        if got != w.expected[tid]:
            wrong.append({"transfer_id": tid, "answered": got, "domain": w.expected[tid]})
    if repeats:
        raise BenchError(f"{repeats} answers say `repeat: true` although every transfer id was sent once")
    if wrong:
        raise BenchError(f"{len(wrong)} answers differ from the domain's decisions; first: {wrong[:3]}")
    return {"answers_equal_domain_decisions": len(w.transfer_ids)}


async def check_books(ctx: Context, http: httpx.AsyncClient, service: Service, w: Workload,
                      reader: AnswerReader) -> dict[str, Any]:
    """The ledger's audit with the journal check, posted transfers stored = posted answers, one inbox
    entry per request, and every stored balance equal to the domain's."""
    t0 = time.perf_counter()
    response = await http.get(f"{service.base_url}/v1/audit", params={"verify": "true"},
                              headers=auth_headers("operator", ACTOR, tenant=w.tenant), timeout=600)
    audit_s = time.perf_counter() - t0
    if response.status_code != 200:
        raise BenchError(f"GET /v1/audit: {response.status_code} {response.text[:500]}")
    audit = response.json()
    if not audit["ok"]:
        raise BenchError(f"the audit failed: sum {audit['sum_of_balances']}, negative {audit['negative_accounts'][:5]}, "
                         f"journal mismatches {audit['journal_mismatches'][:5]}")
    db = ctx.mongo[service.db]
    posted_answers = sum(a.posted for key, a in reader.answers.items() if key.startswith(f"{w.tenant}|"))
    rejected_answers = len(w.transfer_ids) - posted_answers
    posted_stored = await db["transfers"].count_documents({"tenant_id": w.tenant, "kind": "purchase",
                                                           "state": "posted"})
    rejected_stored = await db["transfers"].count_documents({"tenant_id": w.tenant, "kind": "purchase",
                                                             "state": "rejected"})
    if posted_stored != posted_answers or rejected_stored != rejected_answers:
        raise BenchError(f"MongoDB holds {posted_stored:,} posted and {rejected_stored:,} rejected purchases; the "
                         f"answers say {posted_answers:,} and {rejected_answers:,}")
    inbox = await db["inbox"].count_documents({"tenant_id": w.tenant})
    if inbox != len(w.transfer_ids):
        raise BenchError(f"the inbox holds {inbox:,} processed requests of the tenant, not {len(w.transfer_ids):,}")
    stored = {doc["key"]: int(doc["balance"]) async for doc in db["accounts"].find({"tenant_id": w.tenant},
                                                                                  {"key": 1, "balance": 1})}
    stored = {k: v for k, v in stored.items() if v}
    if stored != w.expected_balances:
        diff = sorted(set(stored) ^ set(w.expected_balances) | {k for k in stored if stored[k] !=
                                                                w.expected_balances.get(k)})
        raise BenchError(f"{len(diff)} balances differ from the domain's; first: "
                         f"{[(k, stored.get(k), w.expected_balances.get(k)) for k in diff[:5]]}")
    return {"audit_ok": True, "audit_s": audit_s, "accounts": audit["accounts"],
            "sum_of_balances": audit["sum_of_balances"], "negative_accounts": len(audit["negative_accounts"]),
            "journal_mismatches": len(audit["journal_mismatches"]), "posted_stored": posted_stored,
            "rejected_stored": rejected_stored, "inbox_entries": inbox,
            "balances_equal_domain": len(w.expected_balances)}


# =============================================================================== cleanup
TENANT_COLLECTIONS = ("accounts", "transfers", "operations", "daily_counters", "users", "reallocation_requests",
                      "config", "outbox", "inbox", "learners", "learner_tips")


async def remove_tenants_elsewhere(ctx: Context) -> dict[str, int]:
    """Another ledger consuming the same topic (e.g. one from `make up` on the stack's broker) decided the
    bench tenants' requests in its own database: delete those tenants' documents there."""
    removed: dict[str, int] = {}
    tenants = [ctx.tenant, ctx.warm_tenant]
    for name in await ctx.mongo.list_database_names():
        if name in ("admin", "local", "config", *ctx.bench_dbs):
            continue
        db = ctx.mongo[name]
        collections = set(await db.list_collection_names())
        if "transfers" not in collections or not await db["transfers"].find_one({"tenant_id": {"$in": tenants}}):
            continue
        for coll in TENANT_COLLECTIONS:
            if coll in collections:
                deleted = (await db[coll].delete_many({"tenant_id": {"$in": tenants}})).deleted_count
                if deleted:
                    removed[f"{name}.{coll}"] = deleted
    return removed


async def cleanup(ctx: Context) -> None:
    if ctx.args.keep:
        note(f"--keep: databases left in place: {', '.join(ctx.bench_dbs)}")
    else:
        for name in ctx.bench_dbs:
            try:
                await ctx.mongo.drop_database(name)
            except Exception as error:  # noqa: BLE001 - cleanup goes on
                note(f"could not drop database {name}: {error!r}")
    if not ctx.args.private_broker:
        try:
            others = find_pids(ctx.kafka_port, ctx.mongo_port, exclude={os.getpid()}, services=OTHER_LEDGER)
            if others["other ledger"]:
                await wait_idle(others["other ledger"], "other ledger processes", timeout=ctx.args.idle_timeout)
            removed = await remove_tenants_elsewhere(ctx)
            if removed:
                note(f"removed the bench tenants that other ledger instances stored: {removed}")
        except Exception as error:  # noqa: BLE001
            note(f"could not remove the bench tenants from other databases: {error!r}")


# =============================================================================== report
def render(report: dict[str, Any]) -> str:
    ceiling, sat, paced, books, seeded = (report[k] for k in ("ceiling", "purchases", "paced", "checks", "seed"))
    w = 62
    before, after = ceiling["before"], ceiling["after"]

    def lat(figures: dict[str, float]) -> str:
        return f"p50 {figures['p50_ms']:,.0f}   p99 {figures['p99_ms']:,.0f}   max {figures['max_ms']:,.0f}"

    ts = sat.get("by_kafka_timestamp")
    lines = [
        f"ledger benchmark  run {report['run']}  {report['date']}  {report['cpu_count']} CPUs  "
        f"commit {report['git']['commit']}",
        f"{seeded['wallets']:,} wallets of {seeded['funds_per_wallet']:,} coins, {seeded['sellers']:,} sellers; "
        f"{sat['requests']:,} purchase requests (avg {report['avg_message_bytes']:.0f} B) + {paced['requests']:,} "
        f"paced; tenant {report['tenant']}",
        f"broker: {report['broker']}; ledger batch: up to {report['batch_max_records']} records per transaction",
        "-" * 100,
        f"{'seed through the HTTP API (issue + allocations + relay drain)':<{w}} {seeded['elapsed_s']:>8.1f} s   "
        f"(not a target)",
        f"{'ceiling: guarded update_one on 1 account doc (before / after)':<{w}} "
        f"{before['throughput_per_s']:>8,.0f} / {after['throughput_per_s']:,.0f} ops/s   "
        f"({before['concurrency']} tasks)",
        f"{'purchases answered (posted + rejected) at saturation':<{w}} {sat['answered_per_s']:>8,.0f} /s",
        f"{'purchases posted at saturation':<{w}} {sat['posted_per_s']:>8,.0f} /s   "
        f"({sat['posted']:,} posted, {sat['rejected']:,} rejected{': ' + str(sat['rejected_by_reason']) if sat['rejected'] else ''})",
        f"{'ratio posted / ceiling':<{w}} {100 * report['ratio']:>8.1f} %   target >= {100 * TARGET_RATIO:.0f} %: "
        f"{'met' if report['target_met'] else 'TARGET MISSED'}",
        f"{'latency send -> answer seen, saturation (ms)':<{w}} {lat(sat['latency'])}",
        *([f"{'   (by the answers Kafka timestamps, ms)':<{w}} {lat(ts['latency'])}   "
           f"({ts['posted_per_s']:,.0f} posted/s)"] if ts else []),
        f"{'   (ceiling latency, ms)':<{w}} p50 {before['latency']['p50_ms']:,.1f}   "
        f"p99 {before['latency']['p99_ms']:,.1f}   max {before['latency']['max_ms']:,.1f}",
    ]
    if paced["requests"]:
        pts = paced.get("by_kafka_timestamp")
        lines += [
            f"{'latency at ' + format(paced['offered_per_s'], ',.0f') + ' requests/s (half of saturation, ms)':<{w}} "
            f"{lat(paced['latency'])}",
            *([f"{'   (by the answers Kafka timestamps, ms)':<{w}} {lat(pts['latency'])}"] if pts else []),
        ]
    for label, phase in (("at saturation", sat), ("at half of saturation", paced)):
        m = phase.get("metrics") or {}
        if m.get("handler_calls"):
            lines.append(f"{'   ledger batches ' + label:<{w}} {m['handler_calls']:,.0f} calls, "
                         f"avg {m['avg_batch_size']:,.1f} requests, {m['avg_handler_ms']:,.0f} ms per batch")
    lines += [
        f"{'checks: audit (with journal), stored = answered, = domain':<{w}} ok: {books['accounts']:,} accounts sum "
        f"{books['sum_of_balances']}, {books['posted_stored']:,} posted stored; audit {books['audit_s']:.1f} s",
        "-" * 100,
        "CPU during the purchases at saturation (% of one core):",
    ]
    for label, pct in sat["cpu"]["pct_of_one_core"].items():
        lines.append(f"   {label:<40} {pct:>6.0f} %   ({sat['cpu']['cpu_s'][label]:.1f} CPU s)   "
                     f"ceiling: {before['cpu']['pct_of_one_core'].get(label, 0):.0f} %")
    lines.append(f"   {'machine busy':<40} {sat['cpu']['machine_busy_pct']:>6.0f} % of all cores   "
                 f"ceiling: {before['cpu']['machine_busy_pct']:.0f} %")
    lines += ["memory of the ledger (RSS):", *memory_table(report["memory_rss_bytes"])]
    for text in report["warnings"]:
        lines.append(f"note: {text}")
    return "\n".join(lines)


# =============================================================================== main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=10_000, help="agents with a funded wallet (default 10000)")
    parser.add_argument("--sellers", type=int, default=None, help="agents among them who sell tips "
                        "(default accounts / 20)")
    parser.add_argument("--transfers", type=int, default=200_000, help="purchase requests at saturation "
                        "(default 200000)")
    parser.add_argument("--paced-transfers", type=int, default=20_000, help="purchase requests sent at half the "
                        "saturation rate afterwards (default 20000; 0: none)")
    parser.add_argument("--funds", type=int, default=1800, help="coins allocated to each wallet (default 1800)")
    parser.add_argument("--ceiling-ops", type=int, default=50_000, help="guarded debits per ceiling measurement "
                        "(default 50000)")
    parser.add_argument("--concurrency", type=int, default=100, help="concurrent tasks of the ceiling (default 100)")
    parser.add_argument("--batch-max-records", type=int, default=None,
                        help="LEDGER_BATCH_MAX_RECORDS of the ledger under test (default: the service's own)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (default bench-results/ledger.json)")
    parser.add_argument("--keep", action="store_true", help="do not drop the bench databases")
    parser.add_argument("--seed", type=int, default=20261124, help="seed of the generated workload")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds to wait for the answers of a phase or for the relay (default 900)")
    parser.add_argument("--idle-timeout", type=float, default=120.0,
                        help="seconds to wait for the machine to quiet down before a measurement (default 120)")
    parser.add_argument("--stack-broker", dest="private_broker", action="store_false",
                        help="use the local stack's broker instead of a fresh Apache Kafka node of its own")
    args = parser.parse_args(argv)
    if args.sellers is None:
        args.sellers = max(2, args.accounts // 20)
    if args.accounts < 2 or not 2 <= args.sellers <= args.accounts:
        parser.error("need at least 2 accounts, and between 2 and --accounts sellers")
    if args.transfers < 1 or args.paced_transfers < 0 or args.ceiling_ops < 1 or args.funds < 1:
        parser.error("--transfers, --ceiling-ops and --funds must be positive, --paced-transfers at least 0")
    return args


async def amain(args: argparse.Namespace) -> int:
    return await bench_run("ledger", args.out, args.private_broker, f"{args.accounts:,} accounts, "
                           f"{args.transfers:,} + {args.paced_transfers:,} purchase requests",
                           lambda run, out_path, stack_env: _amain(args, run, out_path, stack_env))


async def _amain(args: argparse.Namespace, run: str, out_path: Path, stack_env: dict[str, str]) -> int:
    tenant = f"bench-{run}"
    settings = LedgerSettings()  # the environment the service under test also reads (time zone, batch size)
    t0 = time.perf_counter()
    w = generate_workload(args, run, tenant, settings.tz)
    validate_sample(w)
    predicted = outcome_counts(w.expected, w.transfer_ids[:args.transfers])
    note(f"generated and decided {len(w.payloads):,} requests in {time.perf_counter() - t0:.1f}s, avg "
         f"{w.avg_bytes:.0f} B; the domain says (saturation run): {predicted}")
    if predicted.get("posted", 0) < 0.9 * args.transfers:
        raise BenchError(f"the workload would be mostly refused ({predicted}): raise --funds or lower --transfers")

    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack_env["TELESALES_MONGO_URI"], tz_aware=True,
                                                               appname="bench-ledger", serverSelectionTimeoutMS=10_000)
    ctx = Context(args, run, tenant, f"bench-{run}-warm", stack_env, mongo, out_path.parent)
    service = Service(run, free_port(), ctx.out_dir / f"ledger-service-{run}.log", args.batch_max_records)
    ctx.bench_dbs.append(service.db)
    report: dict[str, Any] = {}
    code: int | None = None
    try:
        say(f"1/6 ceiling: guarded debits of {args.accounts:,} account documents by {args.concurrency} tasks ...")
        ceiling_accounts, ceiling_ids = await prepare_ceiling(ctx, w)
        before = await measure_ceiling(ctx, ceiling_accounts, ceiling_ids, args.seed + 1)
        say(f"    {before['throughput_per_s']:,.0f} ops/s, p99 {before['latency']['p99_ms']:,.1f} ms")

        say("2/6 ledger: start, fund the wallets through its HTTP API ...")
        for topic in CONSUMED_TOPICS:  # a shared broker's history is not this run's business
            await position_group_at_end(ctx.bootstrap, service.group, topic.name)
        others = ctx.pids().get("other ledger", [])
        if others:
            msg = (f"{len(others)} other ledger process(es) run on this machine (pids {others}); one that consumes "
                   f"{LEDGER_TRANSFER_REQUESTED.name} on this broker decides the bench requests too, at the same time")
            ctx.warnings.append(msg)
            note(msg)
        service.start(ctx.stack_env)
        async with httpx.AsyncClient(timeout=60) as http:
            ready_s = await service.wait_ready(http)
            note(f"ledger ready after {ready_s:.1f}s (pid {service.proc.pid}, port {service.port})")
            memory = Memory({"ledger": service.proc.pid})
            memory.take("at readiness")
            memory.phase = "seed"
            seeded = await seed(ctx, http, service, w)
            memory.phase = None
            memory.take(f"idle, {seeded['wallets']:,} wallets funded")
            say(f"    {seeded['wallets']:,} wallets funded in {seeded['elapsed_s']:.1f}s (issue {seeded['issue_and_policy_s']:.1f}s, "
                f"{seeded['allocations']} allocations {seeded['allocations_s']:.1f}s, relay {seeded['relay_drain_s']:.1f}s)")

            reader = AnswerReader(ctx.bootstrap, service.source, run)
            await reader.start()
            try:
                warm_ids, warm_payloads, warm_keys = warm_up_payloads(ctx)
                reader.expect("warm-up", ctx.warm_tenant, warm_ids)
                producer = AIOKafkaProducer(bootstrap_servers=ctx.bootstrap, **LOAD_PRODUCER_OPTIONS)
                await producer.start()
                try:
                    t_warm = time.perf_counter()
                    await send_all(producer, LEDGER_TRANSFER_REQUESTED.name, warm_payloads, warm_keys, HEADERS)
                finally:
                    await producer.stop()
                await reader.wait("warm-up", len(warm_ids), ctx.args.timeout, service)
                note(f"warm-up: {len(warm_ids)} requests of tenant {ctx.warm_tenant} answered in "
                     f"{time.perf_counter() - t_warm:.1f}s")
                await wait_outbox_empty(ctx, service, ctx.args.timeout)

                await wait_machine_quiet(args.idle_timeout)
                say(f"3/6 purchases: {args.transfers:,} requests through Kafka, all at once ...")
                memory.phase = "purchases"
                saturated = await run_phase(ctx, reader, service, http, "purchases", w, 0, args.transfers, None)
                memory.phase = None
                say(f"    {saturated['answered_per_s']:,.0f} answered/s, {saturated['posted_per_s']:,.0f} posted/s, "
                    f"p99 {saturated['latency']['p99_ms']:,.0f} ms")

                paced: dict[str, Any] = {"requests": 0}
                if args.paced_transfers:
                    await wait_outbox_empty(ctx, service, ctx.args.timeout)
                    await wait_machine_quiet(args.idle_timeout)
                    rate = saturated["answered_per_s"] / 2
                    say(f"4/6 paced: {args.paced_transfers:,} requests at {rate:,.0f}/s ...")
                    memory.phase = "paced"
                    paced = await run_phase(ctx, reader, service, http, "paced", w, args.transfers,
                                            args.transfers + args.paced_transfers, rate)
                    memory.phase = None
                    say(f"    p50 {paced['latency']['p50_ms']:,.0f} ms, p99 {paced['latency']['p99_ms']:,.0f} ms")
                else:
                    say("4/6 paced: skipped (--paced-transfers 0)")
                await wait_outbox_empty(ctx, service, ctx.args.timeout)
                await asyncio.sleep(1.0)  # a redelivered answer would come now
                reader.check()
                redelivered = reader.redelivered
            finally:
                await reader.stop()

            say("5/6 checks: every answer as the domain decides, audit, stored transfers and balances ...")
            outcomes = check_outcomes(w, reader)
            books = await check_books(ctx, http, service, w, reader)
            say(f"    ok ({books['accounts']:,} accounts, audit with journal check {books['audit_s']:.1f}s)")
            await memory.close()
        code = service.stop()
        # uvicorn shuts down gracefully on SIGTERM and then re-raises it: -15 is a clean stop.
        if code not in (0, None, -signal.SIGTERM):
            ctx.warnings.append(f"the ledger exited with {code} on SIGTERM; log {service.log_path}")

        say("6/6 ceiling again, the ledger stopped ...")
        after = await measure_ceiling(ctx, ceiling_accounts, ceiling_ids, args.seed + 2)
        say(f"    {after['throughput_per_s']:,.0f} ops/s, p99 {after['latency']['p99_ms']:,.1f} ms")
    except BenchError as error:
        say(f"\nBENCHMARK FAILED: {error}")
        return 1
    finally:
        if code is None:
            service.stop()
        await cleanup(ctx)
        await mongo.close()

    for phase, cpu in (("ceiling (before)", before["cpu"]), ("purchases", saturated["cpu"]),
                       ("ceiling (after)", after["cpu"]), *((("paced", paced["cpu"]),) if paced["requests"] else ())):
        for label, pct in cpu["pct_of_one_core"].items():
            if label in ("everything else on the machine", "other ledger") and pct > DISTURBED_PCT:
                ctx.warnings.append(f"DISTURBED: during {phase}, {label} used {pct:.0f} % of a core (over "
                                    f"{DISTURBED_PCT:.0f} %): this run's figures are not clean")
    if redelivered:
        ctx.warnings.append(f"{redelivered} answers were read twice (the relay published them again)")
    best = max(before["throughput_per_s"], after["throughput_per_s"])
    ratio = saturated["posted_per_s"] / best
    report = {
        "run": run, "date": datetime.now(UTC).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(),
        "machine": {"platform": platform.platform(), "python": platform.python_version()}, "git": git_state(),
        "tenant": tenant, "random_seed": args.seed, "kafka": ctx.bootstrap,
        "broker": "private (a fresh Apache Kafka node)" if args.private_broker else "the local stack's",
        "mongo": stack_env["TELESALES_MONGO_URI"], "service_log": str(service.log_path),
        "batch_max_records": args.batch_max_records or settings.batch_max_records,
        "policy": POLICY.model_dump(mode="json"), "business_day": w.day, "avg_message_bytes": w.avg_bytes,
        "producer_options": LOAD_PRODUCER_OPTIONS, "reader_options": READER_OPTIONS,
        "domain_predicted": {"purchases": predicted,
                             "paced": outcome_counts(w.expected, w.transfer_ids[args.transfers:])},
        "seed": seeded, "ceiling": {"before": before, "after": after, "best_per_s": best},
        "purchases": saturated, "paced": paced, "checks": {**books, **outcomes, "redelivered_answers": redelivered},
        "ratio": ratio, "target_ratio": TARGET_RATIO, "target_met": ratio >= TARGET_RATIO,
        "ledger_exit_code": code, "memory_rss_bytes": memory.points, "warnings": ctx.warnings,
    }
    publish_report(out_path, report, render(report))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_benchmark(lambda: amain(args))


if __name__ == "__main__":
    sys.exit(main())
