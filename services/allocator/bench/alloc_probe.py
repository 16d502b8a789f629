"""What the allocator benchmark measures besides time: the server's own work per operation, memory, and the
plans of the hot queries.

- `ServerWork`: MongoDB's `top` counters of the benchmark's own database (its namespaces only, so the other
  databases of a shared server do not count): operations and server time per claim (or per ceiling write).
  The counts are exact on a busy machine; the times include waiting for a core there.
- `memory_pids`: the processes whose RSS the report shows (telesales_testkit.memory).
- `explain_plans`: `explain` (executionStats) of the claim's reads and write filter, the holding counts and
  the reclaim sweep's read, on the seeded collection: which index, keys and documents examined.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from allocator import domain
from allocator.store import BEST_FIRST_SORT, HELD, AllocatorStore, held_count_stages
from allocator.store.claim_writes import claimable_query, not_dropped_by
from telesales_testkit.memory import memory_table, pids_running

OPS = ("queries", "getmore", "insert", "update", "remove", "commands")


class ServerWork:
    """Operations and server time (µs) on the namespaces of one database, between `start` and `stop`."""

    def __init__(self, mongo: Any, database: str) -> None:
        self.mongo = mongo
        self.prefix = f"{database}."
        self._before: dict[str, dict[str, int]] = {}

    async def _read(self) -> dict[str, dict[str, int]]:
        totals = (await self.mongo.admin.command("top"))["totals"]
        out: dict[str, dict[str, int]] = {}
        for ns, figures in totals.items():
            if ns.startswith(self.prefix):
                name = ns[len(self.prefix):]
                out[name] = {op: int(figures[op]["count"]) for op in OPS if op in figures}
                out[name]["time_us"] = int(figures["total"]["time"])
        return out

    async def start(self) -> ServerWork:
        self._before = await self._read()
        return self

    async def stop(self, per: int) -> dict[str, Any]:
        """The work since `start`, in total and per operation of the phase (`per` of them)."""
        after = await self._read()
        by_collection: dict[str, dict[str, int]] = {}
        for name, figures in after.items():
            before = self._before.get(name, {})
            delta = {k: v - before.get(k, 0) for k, v in figures.items()}
            if any(delta.values()):
                by_collection[name] = delta
        ops = sum(v for d in by_collection.values() for k, v in d.items() if k != "time_us")
        time_us = sum(d.get("time_us", 0) for d in by_collection.values())
        return {"by_collection": by_collection, "operations": ops, "server_ms": time_us / 1000,
                "operations_per_op": ops / max(1, per), "server_us_per_op": time_us / max(1, per)}


class SweepProfile:
    """MongoDB's profiler (level 2) on the benchmark's database between `start` and `stop`: every operation,
    grouped by what it is (a reclaim, a warning, a relay's acknowledgement, an outbox row ...), with the
    index keys it inserted and deleted and the documents it wrote. The profiler's `millis` are whole
    milliseconds (a sum over thousands of operations is close; one operation's is not)."""

    SIZE_BYTES = 512 * 1024 * 1024  # every operation of a sweep of 40,000 held leads fits

    def __init__(self, db: Any) -> None:
        self.db = db

    async def start(self) -> SweepProfile:
        await self.db.command("profile", 0)
        await self.db.drop_collection("system.profile")
        await self.db.create_collection("system.profile", capped=True, size=self.SIZE_BYTES)
        await self.db.command("profile", 2)
        return self

    async def stop(self) -> dict[str, dict[str, int]]:
        await self.db.command("profile", 0)
        groups: dict[str, dict[str, int]] = {}
        fields = ("millis", "keysInserted", "keysDeleted", "nModified", "ninserted", "ndeleted", "docsExamined",
                  "keysExamined", "writeConflicts")
        async for entry in self.db["system.profile"].find({}, {"ns": 1, "op": 1, "command": 1, **dict.fromkeys(fields, 1)}):
            group = groups.setdefault(_profiled_kind(entry), {"operations": 0, **dict.fromkeys(fields, 0)})
            group["operations"] += 1
            for name in fields:
                group[name] += int(entry.get(name) or 0)
        return groups


def _profiled_kind(entry: dict[str, Any]) -> str:
    collection = entry.get("ns", "").split(".", 1)[-1]
    op, command = entry.get("op"), entry.get("command") or {}
    if op == "update":
        update = command.get("u")
        if command.get("multi"):
            return f"{collection}: update_many (relay acknowledgement)"
        fields = update.get("$set", {}) if isinstance(update, dict) else {}
        if fields.get("status") == "pooled":
            return f"{collection}: update (reclaim)"
        if "warned_for" in fields or (isinstance(update, list) and "warned_for" in str(update)):
            return f"{collection}: update (warning)"
        return f"{collection}: update (other)"
    if op == "command":
        name = next(iter(command), "?")
        return f"command {name}" if name in ("commitTransaction", "abortTransaction") else f"{collection}: {name}"
    return f"{collection}: {op}"


def memory_pids(groups: dict[str, list[int]], redis_port: int) -> dict[str, int]:
    """One process per label: the benchmark (the allocator runs in it), mongod, the broker, Redis."""
    pids = {label: found[0] for label, found in groups.items() if found}
    redis = pids_running(name="redis-server", port=redis_port)
    if redis:
        pids["redis"] = redis[0]
    return pids


def _plan_summary(explained: dict[str, Any]) -> dict[str, Any]:
    stats = explained.get("executionStats", {})
    stages: list[str] = []
    node = explained.get("queryPlanner", {}).get("winningPlan", {})
    node = node.get("queryPlan", node)  # the slot-based engine nests it
    while node:
        stages.append(node.get("stage", "?") + (f"({node['indexName']})" if "indexName" in node else ""))
        node = node.get("inputStage") or (node.get("inputStages") or [None])[0]
    return {"plan": " <- ".join(stages), "keys_examined": stats.get("totalKeysExamined"),
            "docs_examined": stats.get("totalDocsExamined"), "returned": stats.get("nReturned"),
            "ms": stats.get("executionTimeMillis")}


async def explain_plans(store: AllocatorStore, tenant: str, agent: dict[str, Any], pools: list[str],
                        tier: domain.Tier, policy: domain.AllocationPolicy, horizon: datetime) -> dict[str, Any]:
    """The plans of what a claim, the holding counts and the sweep read, on the seeded leads."""
    db, leads = store.leads.database, store.leads.name
    now = datetime.now(UTC)
    claimable = claimable_query(tenant, pools, tier, now)
    lone = {**claimable, **not_dropped_by(agent["agent_id"], policy.reclaim_cooldown_days, now)}
    sort = dict(BEST_FIRST_SORT)
    finds = {
        "claim: best candidates of a group (find, sort, limit 96)": {"filter": claimable, "sort": sort, "limit": 96},
        "claim: a lone claim's best lead (the filter of its find_one_and_update)": {"filter": lone, "sort": sort,
                                                                                   "limit": 1},
        "sweep: held leads held since the horizon (find, sort held_since)": {
            "filter": {"tenant_id": tenant, "status": HELD, "held_since": {"$lte": horizon}},
            "sort": {"held_since": 1}},
    }
    out: dict[str, Any] = {}
    for label, spec in finds.items():
        explained = await db.command("explain", {"find": leads, **spec}, verbosity="executionStats")
        out[label] = _plan_summary(explained)
    # the store's own count (a claim's, and a push's for every agent at work it reaches)
    explained = await db.command("explain", {"aggregate": leads, "cursor": {},
                                             "pipeline": held_count_stages(tenant, [agent["agent_id"]])},
                                 verbosity="executionStats")
    out["claim: an agent's holding count (aggregate)"] = _plan_summary(explained)
    return out


def render_probes(report: dict[str, Any]) -> str:
    """The server's work per operation, the plans and the memory, as text under the main table."""
    lines = ["MongoDB's own work on this run's database, per operation (`top`; times include waits for a core):"]
    phases = {"ceiling (before)": report["ceiling"]["before"], "claims at saturation": report["claims"],
              "claims at half of saturation": report["paced_claims"], "claims at a floor's rate": report["floor_claims"],
              "sweep (per examined lead)": report["sweep"]}
    for label, figures in phases.items():
        work = figures.get("server_work")
        if work:
            lines.append(f"   {label:<40} {work['operations_per_op']:>6.2f} operations   "
                         f"{work['server_us_per_op']:>8,.0f} µs")
    lines.append("The sweep and its relays by collection (`top`: operations, server time):")
    for name, figures in sorted(report["sweep"]["server_work"]["by_collection"].items()):
        ops = ", ".join(f"{op} {figures[op]:,}" for op in OPS if figures.get(op))
        lines.append(f"   {name:<30} {ops}; {figures.get('time_us', 0) / 1000:,.0f} ms")
    profile = report["sweep"].get("profile")
    if profile:
        lines.append("The sweep and its relays, operation by operation (MongoDB's profiler; ms are whole per operation):")
        for kind, figures in sorted(profile.items(), key=lambda item: -item[1]["operations"]):
            n = max(1, figures["operations"])
            lines.append(f"   {kind:<52} {figures['operations']:>7,} ops  {figures['millis']:>7,} ms  "
                         f"keys +{figures['keysInserted'] / n:.2f} -{figures['keysDeleted'] / n:.2f}  "
                         f"modified {figures['nModified']:,}  inserted {figures['ninserted']:,}  "
                         f"deleted {figures['ndeleted']:,}  conflicts {figures['writeConflicts']}")
    lines.append("Query plans on the seeded leads (explain, executionStats):")
    for label, plan in report.get("plans", {}).items():
        lines.append(f"   {label}: {plan['plan']}; keys {plan['keys_examined']:,}, docs {plan['docs_examined']:,}, "
                     f"returned {plan['returned']:,}, {plan['ms']} ms")
    lines.append("Memory (RSS):")
    lines.extend("   " + line for line in memory_table(report.get("memory_rss_bytes", {})))
    return "\n".join(lines)
