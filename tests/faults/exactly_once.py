"""After a fault: wait until the platform has caught up with the lead and purchase streams, then check that
every lead, touch, coin transfer and count is there exactly once, as in a run without the fault (computed
from the inputs). The kill tests and the broker-kill test share these checks."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from faults_support import LeadStream, Platform, PurchaseStream, dead_letters, read_topics, wait_until


@dataclass
class CaughtUp:
    seconds: dict[str, float] = field(default_factory=dict)  # per service, from the start of the wait
    raced_merges: int = 0  # merges that overtook their lead at the allocator and were applied by a replay


async def inbox_count(db: Any, tenant: str) -> int:
    return await db["inbox"].count_documents({"tenant_id": tenant})


async def processed_at_least(db: Any, tenant: str, least: int) -> bool:
    """Whether a service processed `least` events of the tenant (its inbox): it consumes."""
    return await inbox_count(db, tenant) >= least


async def metric_total(db: Any, tenant: str, family: str, name: str) -> int:
    """A metrics counter of the tenant, all time, summed over its labels."""
    docs = db["counters"].find({"tenant_id": tenant, "family": family, "period": "all"}, {"c": 1})
    return sum([(doc.get("c") or {}).get(name, 0) async for doc in docs])


async def raced_merges(platform: Platform, tenant: str) -> int:
    """Merges the allocator dead-lettered because they overtook their lead's qualified event (another topic, so
    another partition: see allocator.service.intake); they wait for a replay. Distinct events: one
    dead-lettered just before a kill is dead-lettered again on redelivery."""
    return len({json.loads(d["payload_text"])["id"] for d in await dead_letters(platform.infra.kafka_bootstrap)
                if d["tenantid"] == tenant and d["service"] == "allocator" and d["error_type"] == "unknown_lead"})


async def wait_for_leads(platform: Platform, tenant: str, leads: LeadStream, caught_up: CaughtUp,
                         timeout: float = 120) -> None:
    """Until lead-intake processed and announced every lead event and the allocator pooled every lead and
    merge; merges that overtook their lead are replayed from the dead letters (the documented remedy)."""
    intake, allocator = platform["lead-intake"], platform["allocator"]
    intake_db, allocator_db = platform.db("lead-intake"), platform.db("allocator")

    async def intake_done() -> bool:
        return (await inbox_count(intake_db, tenant) == len(leads.unique_ids)
                and await intake_db["outbox"].count_documents({}) == 0)

    async def allocator_done() -> bool:
        return (await allocator_db["leads"].count_documents({"tenant_id": tenant}) == len(leads.phones)
                and await inbox_count(allocator_db, tenant)
                == len(leads.phones) + leads.merges - await raced_merges(platform, tenant))

    caught_up.seconds["lead-intake"] = await wait_until(intake_done, timeout, "every lead processed and announced",
                                                        intake)
    caught_up.seconds["allocator"] = await wait_until(allocator_done, timeout, "every lead in the pools", allocator,
                                                      interval=1)
    caught_up.raced_merges = await raced_merges(platform, tenant)
    if caught_up.raced_merges:
        replay = subprocess.run([sys.executable, "-m", "telesales_tools.replay", "--bootstrap",
                                 platform.infra.kafka_bootstrap, "--tenant", tenant, "--service", "allocator",
                                 "--error-type", "unknown_lead", "--timeout", "30", "--apply"],
                                capture_output=True, text=True, timeout=120)
        assert replay.returncode == 0 and "republished" in replay.stdout, replay

        async def merges_applied() -> bool:
            return await inbox_count(allocator_db, tenant) == len(leads.phones) + leads.merges
        await wait_until(merges_applied, 60, "the replayed merges applied", allocator)


async def check_leads(platform: Platform, tenant: str, leads: LeadStream) -> dict[str, int]:
    """One lead per person with every touch once, one qualified event per lead, one merged event per merge,
    every lead pooled once with every merge counted once. Returns the figures."""
    intake_db, allocator_db = platform.db("lead-intake"), platform.db("allocator")
    stored = await intake_db["leads"].find({"tenant_id": tenant}, {"touches_count": 1, "touches": 1}).to_list()
    assert len(stored) == leads.expected["leads"]
    touches = [t["event_id"] for doc in stored for t in doc["touches"]]
    assert sum(doc["touches_count"] for doc in stored) == len(touches) == leads.expected["touches"]
    assert set(touches) == leads.unique_ids
    topics = await read_topics(platform.infra.kafka_bootstrap, "leads.qualified.v1", "leads.merged.v1",
                               "leads.rejected.v1")
    mine = {name: [r["value"] for r in records if isinstance(r["value"], dict) and r["value"].get("tenantid") == tenant]
            for name, records in topics.items()}
    assert mine["leads.rejected.v1"] == []
    qualified_ids = Counter(e["id"] for e in mine["leads.qualified.v1"])
    assert len(qualified_ids) == len({e["data"]["lead_id"] for e in mine["leads.qualified.v1"]}) == len(leads.phones)
    assert {doc["_id"] for doc in stored} == {e["data"]["lead_id"] for e in mine["leads.qualified.v1"]}
    merged_touches = {e["data"]["touch"]["event_id"] for e in mine["leads.merged.v1"]}
    assert len({e["id"] for e in mine["leads.merged.v1"]}) == len(merged_touches) == leads.merges

    pooled_docs = await allocator_db["leads"].find({"tenant_id": tenant}, {"touches": 1}).to_list()
    assert {doc["_id"] for doc in pooled_docs} == {doc["_id"] for doc in stored}
    assert sum(doc["touches"] for doc in pooled_docs) == len(touches)  # every merge counted once
    return {"leads": len(stored), "touches": len(touches), "pooled": len(pooled_docs),
            # the outbox publishes at least once; consumers absorb a second copy by its event id
            "qualified published twice": sum(n - 1 for n in qualified_ids.values())}


async def wait_for_purchases(platform: Platform, tenant: str, purchases: PurchaseStream, caught_up: CaughtUp,
                             timeout: float = 120) -> None:
    ledger, ledger_db = platform["ledger"], platform.db("ledger")

    async def ledger_done() -> bool:
        return (await inbox_count(ledger_db, tenant) == len(purchases.unique_ids)
                and await ledger_db["outbox"].count_documents({}) == 0)
    caught_up.seconds["ledger"] = await wait_until(ledger_done, timeout, "every purchase processed and announced",
                                                   ledger)


async def check_coins(platform: Platform, tenant: str, purchases: PurchaseStream) -> dict[str, set[str]]:
    """The balances and outcomes of the uninterrupted run, books balanced, every request answered. Returns the
    answers' event ids per topic."""
    ledger, ledger_db = platform["ledger"], platform.db("ledger")
    accounts = {doc["key"]: doc["balance"] async for doc in ledger_db["accounts"].find({"tenant_id": tenant})}
    assert {k: v for k, v in accounts.items() if v} == purchases.balances
    assert sum(accounts.values()) == 0
    decided = {doc["transfer_id"]: doc["state"] async for doc in ledger_db["transfers"].find(
        {"tenant_id": tenant, "kind": "purchase"})}
    assert decided == purchases.outcomes
    assert set(decided.values()) == {"posted", "rejected"}
    answers = await read_topics(platform.infra.kafka_bootstrap, "ledger.transfer-posted.v1",
                                "ledger.transfer-rejected.v1")
    answered = {r["value"]["data"]["request_event_id"] for records in answers.values() for r in records
                if r["value"].get("tenantid") == tenant}
    assert answered == purchases.unique_ids
    async with ledger.client(tenant) as http:
        audit = (await http.get("/v1/audit", params={"verify": "true"})).json()
    assert audit["ok"] and audit["sum_of_balances"] == 0, audit
    return {name: {r["value"]["id"] for r in records if r["value"].get("tenantid") == tenant}
            for name, records in answers.items()}


async def check_metrics(platform: Platform, tenant: str, leads: LeadStream, answer_ids: dict[str, set[str]],
                        caught_up: CaughtUp, timeout: float = 120) -> dict[tuple[str, str], int]:
    """Metrics counted every lead, merge and ledger answer once. Returns the counts."""
    metrics, metrics_db = platform["metrics"], platform.db("metrics")
    expected = {("pool", "created"): len(leads.phones), ("funnel", "total"): len(leads.phones),
                ("pool", "merged"): leads.merges,
                ("market", "ledger_posted"): len(answer_ids["ledger.transfer-posted.v1"]),
                ("market", "ledger_rejected"): len(answer_ids["ledger.transfer-rejected.v1"])}

    async def metrics_done() -> bool:
        return all([await metric_total(metrics_db, tenant, *what) >= n for what, n in expected.items()])
    caught_up.seconds["metrics"] = await wait_until(metrics_done, timeout, "metrics counting every event", metrics)
    await asyncio.sleep(2)  # an event counted twice would show by now
    assert {what: await metric_total(metrics_db, tenant, *what) for what in expected} == expected
    return expected


async def caught_up_exactly_once(platform: Platform, tenant: str, leads: LeadStream,
                                 purchases: PurchaseStream) -> tuple[CaughtUp, str]:
    """Wait until the platform caught up with both streams, check every lead, transfer and count once, and
    say what was found (for the report)."""
    caught_up = CaughtUp()
    await wait_for_leads(platform, tenant, leads, caught_up)
    await wait_for_purchases(platform, tenant, purchases, caught_up)
    figures = await check_leads(platform, tenant, leads)
    answer_ids = await check_coins(platform, tenant, purchases)
    # metrics: a restarted process waits for the killed one's lease, then resumes from its last checkpoint
    counted = await check_metrics(platform, tenant, leads, answer_ids, caught_up)
    posted = len(answer_ids["ledger.transfer-posted.v1"])
    summary = ("caught up in " + ", ".join(f"{k} {v:.1f}s" for k, v in caught_up.seconds.items())
               + f"; result = uninterrupted run: {figures['leads']} leads, {figures['touches']} touches "
               f"({leads.merges} merged), {figures['pooled']} pooled, {posted} transfers posted and "
               f"{len(purchases.outcomes) - posted} rejected, {len(purchases.balances)} non-zero balances equal, "
               f"sum 0; metrics counted each lead, merge and ledger answer once ({counted[('pool', 'created')]} "
               f"leads, {counted[('market', 'ledger_posted')]} posted); {figures['qualified published twice']} "
               f"qualified events published twice (absorbed by ids); {caught_up.raced_merges} merges overtook "
               f"their qualified lead at the allocator, were dead-lettered (unknown_lead) and applied by a replay")
    return caught_up, summary
